//! `adminOverview`: every OAuth application (without its secret), proposal
//! and public link, for an administrator.

use nimbus_protocol::admin::{AdminLink, AdminOverview, OAuthApplication};

use super::{Reply, ServerState};
use crate::error::OperationError;

pub async fn run(state: &ServerState) -> Result<Reply, OperationError> {
    let applications = state
        .store
        .list_oauth_consumers()
        .await?
        .into_iter()
        .map(|c| OAuthApplication {
            consumer_key: c.key,
            name: c.name,
            callback_url: c.callback_url,
        })
        .collect();
    let links = state
        .store
        .all_links()
        .await?
        .into_iter()
        .map(|l| AdminLink {
            link: l.info,
            creator: l.creator_name,
        })
        .collect();
    Reply::json(AdminOverview {
        applications,
        proposals: state.store.all_proposals(false).await?,
        links,
    })
}
