//! Chunks a file needs are not the Swift API's to destroy.
//!
//! A workspace's container holds its chunks, named by their ids, and every
//! retained version of every file lists the chunks it is made of. A Swift
//! client with the user's own token could delete or replace them (an
//! `rclone sync` from an empty folder would delete them all), and the files
//! could then never be downloaded again. So before a request deletes a chunk
//! object, replaces it (PUT, COPY onto it, a large-object manifest or a
//! symlink over it) or schedules its deletion (`X-Delete-At`,
//! `X-Delete-After`), the proxy asks the metadata servers which of the names
//! a retained version references (`referencedChunks`, with the caller's
//! token) and answers `409 Conflict` for those, changing nothing. Only the server's own
//! collection removes chunks.
//!
//! The proxy does not guess from its own data: only the metadata servers
//! know which containers hold workspaces and what their versions list.
//! Objects whose names are not chunk ids, and containers that hold no
//! workspace, are never asked about and never refused.

use std::collections::HashSet;

use nimbus_protocol::names::is_valid_chunk_id;
use nimbus_protocol::rpc::{DeviceToken, ErrorCode, MAX_REFERENCED_CHUNKS_QUERY, Operation};

use super::{RequestContext, token};
use crate::error::SwiftError;

/// Which of `names` (objects of `container` in `account`) are chunks that a
/// retained version references. Names that are not chunk ids are never in it.
///
/// When the metadata servers will not tell (the container holds a workspace
/// the caller is not a member of, reached through a container ACL), every
/// chunk name counts as referenced: refusing is safe, guessing is not.
pub async fn referenced<'a>(
    context: &RequestContext,
    account: &str,
    container: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<HashSet<String>, SwiftError> {
    let mut chunk_ids: Vec<String> = names
        .into_iter()
        .filter(|name| is_valid_chunk_id(name))
        .map(str::to_owned)
        .collect();
    chunk_ids.sort_unstable();
    chunk_ids.dedup();
    if chunk_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let Some(token) = token(&context.req) else {
        return Ok(chunk_ids.into_iter().collect());
    };
    let token = DeviceToken(token.to_owned());
    let mut referenced = HashSet::new();
    for batch in chunk_ids.chunks(MAX_REFERENCED_CHUNKS_QUERY) {
        let operation = Operation::ReferencedChunks {
            storage_account: account.to_owned(),
            container: container.to_owned(),
            chunk_ids: batch.to_vec(),
        };
        match context
            .state
            .rpc
            .call::<Vec<String>>(Some(&token), operation)
            .await
        {
            Ok(ids) => referenced.extend(ids),
            Err(error) if error.rpc_code() == Some(ErrorCode::Forbidden) => {
                referenced.extend(batch.iter().cloned());
            }
            Err(error) if error.rpc_code() == Some(ErrorCode::Unauthenticated) => {
                return Err(SwiftError::Unauthorized {
                    realm: context.account.clone(),
                });
            }
            Err(error) => return Err(SwiftError::RpcUnavailable(error)),
        }
    }
    Ok(referenced)
}

/// Refuses (409) a request that would delete or replace `object` of
/// `container` in `account` when it is a chunk a retained version needs.
pub async fn refuse_if_referenced(
    context: &RequestContext,
    account: &str,
    container: &str,
    object: &str,
) -> Result<(), SwiftError> {
    if referenced(context, account, container, [object])
        .await?
        .is_empty()
    {
        Ok(())
    } else {
        Err(SwiftError::ChunkInUse(object.to_owned()))
    }
}

/// [`refuse_if_referenced`] for a write that replaces `object` only if it
/// exists: a missing chunk may be stored again (that is how a workspace
/// heals), an existing one may not be overwritten.
async fn refuse_replacing(
    context: &RequestContext,
    account: &str,
    container: &str,
    object: &str,
) -> Result<(), SwiftError> {
    if !is_valid_chunk_id(object)
        || context
            .state
            .index
            .object(account, container, object)
            .await?
            .is_none()
    {
        return Ok(());
    }
    refuse_if_referenced(context, account, container, object).await
}

/// Refuses a write of `object` that would replace a chunk a retained
/// version needs: `overwrite`, the write may replace an existing object;
/// `strict`, it is refused even where the chunk is missing, because it makes
/// the object expire (`X-Delete-At`, `X-Delete-After`) or its bytes are not
/// a body the caller sends (a copy, a large-object manifest, a symlink), so
/// it could not be the chunk a device uploads again.
pub async fn refuse_write(
    context: &RequestContext,
    (account, container, object): (&str, &str, &str),
    overwrite: bool,
    strict: bool,
) -> Result<(), SwiftError> {
    if strict {
        refuse_if_referenced(context, account, container, object).await
    } else if overwrite {
        refuse_replacing(context, account, container, object).await
    } else {
        Ok(())
    }
}
