//! An in-memory metadata server and object store. Commits are planned by
//! the real server's rules (`nimbus_server::commit_plan`) and answered once
//! per request id, like the real one.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use nimbus_client::remote::{Remote, RemoteError};
use nimbus_protocol::rpc::{
    ChunkRef, CommitItem, CommitReply, Content, ItemOutcome, ItemResult, ItemState, Revision,
};
use nimbus_server::commit_plan::{Snapshot, SnapshotItem, plan_commit};
use uuid::Uuid;

const WORKSPACE: Uuid = Uuid::from_u128(0xAAAA);

#[derive(Default)]
struct State {
    items: BTreeMap<Uuid, ItemState>,
    revision: Revision,
    answers: HashMap<Uuid, CommitReply>,
    objects: BTreeMap<String, Vec<u8>>,
    uploads: u64,
}

#[derive(Clone, Default)]
pub struct SimServer(Arc<Mutex<State>>);

impl SimServer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn remote(&self, device: usize) -> SimRemote {
        SimRemote {
            server: self.clone(),
            device: Uuid::from_u128(device as u128 + 1),
            lose_reply: Arc::default(),
        }
    }

    /// The workspace's current revision.
    pub fn revision(&self) -> Revision {
        self.0.lock().unwrap().revision
    }

    /// Objects stored so far.
    pub fn uploads(&self) -> u64 {
        self.0.lock().unwrap().uploads
    }

    /// Live paths with their bytes (`None` for folders).
    pub fn live_files(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        let state = self.0.lock().unwrap();
        let path = |id: Uuid| -> String {
            let mut parts = Vec::new();
            let mut cursor = Some(id);
            while let Some(c) = cursor {
                let item = &state.items[&c];
                parts.push(item.name.clone());
                cursor = item.parent_id;
            }
            parts.reverse();
            parts.join("/")
        };
        state
            .items
            .values()
            .filter(|i| !i.deleted)
            .map(|i| {
                let bytes = (!i.is_folder).then(|| {
                    i.content
                        .chunks
                        .iter()
                        .flat_map(|c| state.objects[&c.id].clone())
                        .collect()
                });
                (path(i.id), bytes)
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct SimRemote {
    server: SimServer,
    device: Uuid,
    lose_reply: Arc<Mutex<bool>>,
}

impl SimRemote {
    /// The next commit is applied but its reply is lost.
    pub fn lose_next_reply(&self, lose: bool) {
        *self.lose_reply.lock().unwrap() = lose;
    }
}

fn hash_of(data: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(data).to_hex())
}

#[async_trait]
impl Remote for SimRemote {
    async fn changes(&self, since: Revision) -> Result<(Vec<ItemState>, Revision), RemoteError> {
        let state = self.server.0.lock().unwrap();
        let mut items: Vec<ItemState> = state
            .items
            .values()
            .filter(|i| i.revision > since)
            .cloned()
            .collect();
        items.sort_by_key(|i| (i.revision, i.id));
        Ok((items, state.revision))
    }

    async fn commit(
        &self,
        request_id: Uuid,
        items: Vec<CommitItem>,
    ) -> Result<CommitReply, RemoteError> {
        let mut state = self.server.0.lock().unwrap();
        let reply = match state.answers.get(&request_id) {
            Some(answer) => answer.clone(),
            None => {
                let snapshot = Snapshot {
                    workspace_id: WORKSPACE,
                    items: state
                        .items
                        .values()
                        .map(|s| {
                            (
                                s.id,
                                SnapshotItem {
                                    workspace_id: WORKSPACE,
                                    state: s.clone(),
                                },
                            )
                        })
                        .collect(),
                };
                let plan = plan_commit(snapshot, &items);
                if !plan.writes.is_empty() {
                    state.revision += 1;
                }
                let revision = state.revision;
                for write in plan.writes {
                    for chunk in &write.content.chunks {
                        assert!(
                            state.objects.contains_key(&chunk.id),
                            "committed a chunk that was never uploaded"
                        );
                    }
                    state.items.insert(
                        write.item_id,
                        ItemState {
                            id: write.item_id,
                            parent_id: write.parent_id,
                            name: write.name,
                            is_folder: write.is_folder,
                            deleted: write.deleted,
                            version: write.version,
                            status: write.status,
                            revision,
                            device_id: self.device,
                            modified_at: write.modified_at,
                            committed_at: 0,
                            content: write.content,
                        },
                    );
                }
                let results: Vec<ItemResult> = items
                    .iter()
                    .zip(plan.outcomes)
                    .map(|(item, outcome)| ItemResult {
                        id: item.id,
                        outcome: match outcome {
                            // The real server sends the full current state.
                            ItemOutcome::Conflict { current: Some(c) } => ItemOutcome::Conflict {
                                current: Some(Box::new(state.items[&c.id].clone())),
                            },
                            other => other,
                        },
                    })
                    .collect();
                let reply = CommitReply { revision, results };
                state.answers.insert(request_id, reply.clone());
                reply
            }
        };
        if std::mem::take(&mut *self.lose_reply.lock().unwrap()) {
            return Err(RemoteError::Unavailable("reply lost".into()));
        }
        Ok(reply)
    }

    async fn upload(&self, mut reader: Box<dyn Read + Send>) -> Result<Content, RemoteError> {
        let mut data = Vec::new();
        reader.read_to_end(&mut data)?;
        let hash = hash_of(&data);
        let mut chunks = Vec::new();
        if !data.is_empty() {
            let id = blake3::hash(&data).to_hex().to_string();
            let mut state = self.server.0.lock().unwrap();
            if !state.objects.contains_key(&id) {
                state.uploads += 1;
                state.objects.insert(id.clone(), data.clone());
            }
            chunks.push(ChunkRef {
                id,
                size: data.len() as u32,
            });
        }
        Ok(Content {
            size: data.len() as u64,
            content_hash: Some(hash),
            chunks,
            chunker: Some("sim".into()),
        })
    }

    async fn download(
        &self,
        content: &Content,
        mut writer: Box<dyn Write + Send>,
    ) -> Result<(), RemoteError> {
        let mut data = Vec::new();
        {
            let state = self.server.0.lock().unwrap();
            for chunk in &content.chunks {
                let bytes = state
                    .objects
                    .get(&chunk.id)
                    .ok_or_else(|| RemoteError::Corrupt(format!("chunk {} missing", chunk.id)))?;
                data.extend_from_slice(bytes);
            }
        }
        if Some(hash_of(&data)) != content.content_hash {
            return Err(RemoteError::Corrupt("content hash mismatch".into()));
        }
        writer.write_all(&data)?;
        writer.flush()?;
        Ok(())
    }

    fn hash_content(&self, reader: &mut dyn Read) -> std::io::Result<String> {
        let mut data = Vec::new();
        reader.read_to_end(&mut data)?;
        Ok(hash_of(&data))
    }
}
