//! `adminOverview`: every OAuth application (without its secret) and
//! proposal, and one page of the public links, for an administrator. The
//! links are counted and cut into pages by the database: an installation's
//! links are many more than a page should carry.

use nimbus_protocol::admin::{
    ADMIN_LINKS_PAGE, AdminLink, AdminOverview, AdminOverviewQuery, OAuthApplication,
};

use super::{Reply, ServerState};
use crate::error::OperationError;

pub async fn run(state: &ServerState, query: AdminOverviewQuery) -> Result<Reply, OperationError> {
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
    let creator = query.links_creator.as_deref().filter(|c| !c.is_empty());
    let links_total = state.store.count_links(creator).await?;
    let pages = links_total.div_ceil(u64::from(ADMIN_LINKS_PAGE)).max(1);
    let links_page = u64::from(query.links_page).clamp(1, pages);
    let links = state
        .store
        .links_page(
            creator,
            (links_page - 1) * u64::from(ADMIN_LINKS_PAGE),
            ADMIN_LINKS_PAGE,
        )
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
        links_page: u32::try_from(links_page).unwrap_or(u32::MAX),
        links_total,
    })
}
