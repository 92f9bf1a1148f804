//! `adminAddOauthApp`: an administrator registers an OAuth application,
//! under the rules of `nimbus-server oauth add-consumer`. The reply is the
//! only time its consumer secret is told.

use nimbus_protocol::admin::{AddOAuthAppArgs, NewOAuthApplication, OAuthApplication};

use super::{Reply, ServerState, admin_refusal};
use crate::admin;
use crate::error::OperationError;
use crate::storage::Actor;

pub async fn run(
    state: &ServerState,
    actor: &Actor,
    args: AddOAuthAppArgs,
) -> Result<Reply, OperationError> {
    let callback_url = args
        .callback_url
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty());
    let consumer = admin::add_oauth_consumer(state.store.as_ref(), actor, &args.name, callback_url)
        .await
        .map_err(admin_refusal)?;
    tracing::info!(consumer_key = %consumer.key, "OAuth application registered");
    Reply::json(NewOAuthApplication {
        application: OAuthApplication {
            consumer_key: consumer.key,
            name: consumer.name,
            callback_url: consumer.callback_url,
        },
        consumer_secret: consumer.secret,
    })
}
