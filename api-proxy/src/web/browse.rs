//! `/` (the user's workspaces) and `/files/{workspace}[/{folder}]` (a
//! folder: breadcrumbs, sorting, paging and search by name).
//!
//! A folder is read from the workspace's item tree, which the proxy keeps
//! up to date by delta with the caller's own token ([`TreeCache`]), so a
//! page costs the RPCs that authenticate and authorize it plus one
//! `getChanges`; sorting and paging run over the cached tree and only one
//! page of rows is rendered, so a folder of 10,000 entries opens as fast as
//! a small one.
//!
//! [`TreeCache`]: crate::tree::TreeCache

use std::cmp::Ordering;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use nimbus_protocol::rpc::{EncryptionMode, ItemState, Role, WorkspaceInfo};
use serde::Deserialize;
use uuid::Uuid;

use super::error::WebError;
use super::format::{human_size, human_time};
use super::layout::{Layout, Pager, render};
use super::session::WebSession;
use crate::state::RestState;
use crate::tree::Tree;

/// Rows on one page of a folder.
pub const PAGE_SIZE: usize = 200;
/// Longest search text accepted.
const MAX_SEARCH_CHARS: usize = 255;

/// Why an end-to-end encrypted workspace cannot be opened here.
const LOCKED_REASON: &str = "End-to-end encrypted: its files are encrypted with a passphrase \
     that only your desktop clients know, so the server cannot show them. Open it in the \
     desktop app.";

struct WorkspaceRow {
    href: String,
    name: String,
    role: &'static str,
    locked: Option<&'static str>,
    is_default: bool,
}

#[derive(Template)]
#[template(path = "workspaces.html")]
struct WorkspacesPage {
    layout: Layout,
    workspaces: Vec<WorkspaceRow>,
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Editor => "editor",
        Role::Viewer => "viewer",
    }
}

fn locked_reason(workspace: &WorkspaceInfo) -> Option<&'static str> {
    (workspace.encryption == EncryptionMode::Client).then_some(LOCKED_REASON)
}

/// The caller's workspaces, the default first, then by name.
pub async fn workspaces_of(
    state: &RestState,
    session: &WebSession,
    next: &str,
) -> Result<Vec<WorkspaceInfo>, WebError> {
    let mut workspaces = state
        .rpc
        .get_workspaces(&session.token)
        .await
        .map_err(|e| WebError::from_rpc(e, next))?;
    workspaces.sort_by(|a, b| {
        b.is_default
            .cmp(&a.is_default)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(workspaces)
}

/// `GET /`: the user's workspaces.
pub async fn home(
    session: WebSession,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (workspaces, proposals) = futures::try_join!(
        workspaces_of(&state, &session, "/"),
        super::sharing::proposals(&state, &session),
    )?;
    let workspaces = workspaces
        .into_iter()
        .map(|w| WorkspaceRow {
            href: format!("/files/{}", w.workspace_id),
            locked: locked_reason(&w),
            role: role_name(w.role),
            is_default: w.is_default,
            name: w.name,
        })
        .collect();
    render(
        StatusCode::OK,
        &WorkspacesPage {
            layout: Layout::of(&session)
                .with_invitations(super::sharing::pending_invitations(&proposals)),
            workspaces,
        },
    )
}

/// A workspace of the caller's, with the tree of its items. Ids the caller
/// has no workspace or item for are "not found", whoever's they are.
pub struct Opened {
    pub workspace: WorkspaceInfo,
    pub tree: Arc<Tree>,
    /// In the default workspace: the caller's other workspaces that their
    /// devices mount inside it (shares, and folders of theirs that became
    /// workspaces when shared), each at its `mount_parent`.
    pub mounted: Vec<WorkspaceInfo>,
}

fn parse_uuid(raw: &str, what: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| WebError::NotFound(format!("there is no {what} {raw:?}")))
}

pub(super) fn no_workspace() -> WebError {
    WebError::NotFound(
        "you have no workspace with this id: it may have been deleted or unshared, or the \
         link is wrong"
            .into(),
    )
}

fn no_item() -> WebError {
    WebError::NotFound(
        "this workspace has no such file or folder: it may have been deleted, moved to \
         another workspace, or the link is wrong"
            .into(),
    )
}

/// Finds the caller's workspace `raw_id`; an end-to-end encrypted one is
/// refused with the reason.
pub async fn find_workspace(
    state: &RestState,
    session: &WebSession,
    raw_id: &str,
    next: &str,
) -> Result<WorkspaceInfo, WebError> {
    Ok(find_among_workspaces(state, session, raw_id, next).await?.0)
}

/// [`find_workspace`], with all the caller's workspaces.
async fn find_among_workspaces(
    state: &RestState,
    session: &WebSession,
    raw_id: &str,
    next: &str,
) -> Result<(WorkspaceInfo, Vec<WorkspaceInfo>), WebError> {
    let id = parse_uuid(raw_id, "workspace")?;
    let workspaces = workspaces_of(state, session, next).await?;
    let workspace = workspaces
        .iter()
        .find(|w| w.workspace_id == id)
        .cloned()
        .ok_or_else(no_workspace)?;
    match locked_reason(&workspace) {
        Some(reason) => Err(WebError::Forbidden(format!("{}: {reason}", workspace.name))),
        None => Ok((workspace, workspaces)),
    }
}

/// The workspaces a user's devices mount inside their default workspace,
/// as the desktop client decides (`mounts::plan`): others' shares, and
/// their own folders that became workspaces. Workspaces they made as such
/// sync on their own and are not among them.
fn mounted_in_default(workspaces: Vec<WorkspaceInfo>, user_id: Uuid) -> Vec<WorkspaceInfo> {
    workspaces
        .into_iter()
        .filter(|w| !w.is_default && (w.owner_id != user_id || w.converted_from.is_some()))
        .collect()
}

/// Finds the caller's workspace `raw_id` ([`find_workspace`]) and loads its tree.
pub async fn open_workspace(
    state: &RestState,
    session: &WebSession,
    raw_id: &str,
    next: &str,
) -> Result<Opened, WebError> {
    let (workspace, workspaces) = find_among_workspaces(state, session, raw_id, next).await?;
    let tree = state
        .trees
        .load(&state.rpc, &session.token, workspace.workspace_id)
        .await?;
    let mounted = if workspace.is_default {
        mounted_in_default(workspaces, session.account.user_id)
    } else {
        Vec::new()
    };
    Ok(Opened {
        workspace,
        tree,
        mounted,
    })
}

/// [`open_workspace`] for a change: refused unless the caller may write in it.
pub async fn open_writable(
    state: &RestState,
    session: &WebSession,
    raw_id: &str,
    next: &str,
) -> Result<Opened, WebError> {
    let opened = open_workspace(state, session, raw_id, next).await?;
    crate::rest::require_write(&opened.workspace)?;
    Ok(opened)
}

impl Opened {
    /// The live updates of this workspace from the revision its tree shows
    /// (`web/static/live.js` listens to them on pages that carry it).
    pub fn live_url(&self) -> String {
        format!(
            "/files/{}/events?since={}",
            self.workspace.workspace_id, self.tree.revision
        )
    }

    /// The live item `raw_id` of this workspace.
    pub fn live_item(&self, raw_id: &str) -> Result<&ItemState, WebError> {
        self.any_item(raw_id)
            .ok()
            .filter(|item| !item.deleted)
            .ok_or_else(no_item)
    }

    /// The item `raw_id` of this workspace, live or deleted.
    pub fn any_item(&self, raw_id: &str) -> Result<&ItemState, WebError> {
        let id = Uuid::parse_str(raw_id).map_err(|_| no_item())?;
        self.tree.get(id).ok_or_else(no_item)
    }

    /// The folders from the top of the workspace down to `folder`.
    pub fn ancestry(&self, folder: Option<Uuid>) -> Vec<&ItemState> {
        let mut chain = Vec::new();
        let mut current = folder;
        while let Some(item) = current.and_then(|id| self.tree.get(id)) {
            if chain.len() > self.tree.items.len() {
                break;
            }
            chain.push(item);
            current = item.parent_id;
        }
        chain.reverse();
        chain
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    #[default]
    Name,
    Size,
    Modified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListingQuery {
    #[serde(default)]
    sort: SortKey,
    #[serde(default)]
    order: SortOrder,
    page: Option<usize>,
    q: Option<String>,
}

impl SortKey {
    fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Modified => "modified",
        }
    }
}

/// A row of a folder: an item of the workspace, or another workspace
/// mounted there (a folder whose contents are that workspace's).
#[derive(Clone, Copy)]
enum Entry<'a> {
    Item(&'a ItemState),
    Mount(&'a WorkspaceInfo),
}

impl Entry<'_> {
    fn id(&self) -> Uuid {
        match self {
            Entry::Item(item) => item.id,
            Entry::Mount(workspace) => workspace.workspace_id,
        }
    }

    fn name(&self) -> &str {
        match self {
            Entry::Item(item) => &item.name,
            Entry::Mount(workspace) => &workspace.name,
        }
    }

    fn is_folder(&self) -> bool {
        match self {
            Entry::Item(item) => item.is_folder,
            Entry::Mount(_) => true,
        }
    }

    /// A mount has no size or time of its own here (its workspace's top
    /// is no item): it sorts as empty and oldest.
    fn size(&self) -> u64 {
        match self {
            Entry::Item(item) => item.content.size,
            Entry::Mount(_) => 0,
        }
    }

    fn modified_at(&self) -> i64 {
        match self {
            Entry::Item(item) => item.modified_at,
            Entry::Mount(_) => 0,
        }
    }
}

/// Folders first, then by the key, then by name and id so pages are stable.
fn compare(a: Entry<'_>, b: Entry<'_>, key: SortKey, order: SortOrder) -> Ordering {
    let by_name = || {
        a.name()
            .to_lowercase()
            .cmp(&b.name().to_lowercase())
            .then_with(|| a.name().cmp(b.name()))
    };
    let ordered = match key {
        SortKey::Name => by_name(),
        SortKey::Size => a.size().cmp(&b.size()).then_with(by_name),
        SortKey::Modified => a.modified_at().cmp(&b.modified_at()).then_with(by_name),
    }
    .then_with(|| a.id().cmp(&b.id()));
    let ordered = match order {
        SortOrder::Asc => ordered,
        SortOrder::Desc => ordered.reverse(),
    };
    b.is_folder().cmp(&a.is_folder()).then(ordered)
}

struct Crumb {
    name: String,
    href: String,
}

struct Row {
    id: Uuid,
    name: String,
    /// `/files/{workspace}/{item}`, under which rename and delete are.
    item_url: String,
    is_folder: bool,
    /// The folder page, or the file opened in the browser.
    href: String,
    download: Option<String>,
    size: String,
    modified: String,
    modified_iso: String,
    /// In search results: the folder the item is in.
    location: Option<String>,
    /// A mount of another workspace: "shared" (the caller's own) or
    /// "shared with you", and its sharing page. Its actions are there.
    mount: Option<(&'static str, String)>,
    /// A folder of the default workspace: the page that shares it.
    share_href: Option<String>,
}

struct SortLink {
    label: &'static str,
    href: String,
    /// `aria-sort` of the column.
    state: &'static str,
}

#[derive(Template)]
#[template(path = "folder.html")]
struct FolderPage {
    layout: Layout,
    workspace_name: String,
    title: String,
    crumbs: Vec<Crumb>,
    search_action: String,
    search: String,
    sort_links: Vec<SortLink>,
    rows: Vec<Row>,
    total: usize,
    pager: Pager,
    parent: Option<String>,
    /// Whether the caller may change this workspace.
    can_write: bool,
    new_folder_action: String,
    /// Where uploads go: this workspace's id and `folder_id`.
    workspace_id: String,
    /// This folder's id (empty at the top), where a new folder goes.
    folder_id: String,
    /// The live updates of this workspace from the revision shown
    /// (`web/static/live.js`).
    live_url: String,
    trash_href: String,
    conflicts_href: String,
    /// This folder (or the whole workspace) as a zip.
    zip_href: String,
    /// The workspace's sharing page, or in the default workspace (never
    /// shared as a whole) the page that shares the folder shown.
    sharing: (&'static str, String),
}

/// `GET /files/{workspace}`: the top of a workspace.
pub async fn workspace_root(
    session: WebSession,
    path: web::Path<String>,
    query: web::Query<ListingQuery>,
    req: actix_web::HttpRequest,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let opened = open_workspace(&state, &session, &path, req.path()).await?;
    folder_page(&session, &opened, None, &query)
}

/// `GET /files/{workspace}/{folder}`.
pub async fn folder(
    session: WebSession,
    path: web::Path<(String, String)>,
    query: web::Query<ListingQuery>,
    req: actix_web::HttpRequest,
    state: web::Data<RestState>,
) -> Result<HttpResponse, WebError> {
    let (workspace, folder) = path.into_inner();
    let opened = open_workspace(&state, &session, &workspace, req.path()).await?;
    let item = opened.live_item(&folder)?;
    if !item.is_folder {
        return Err(WebError::NotFound(format!(
            "{:?} is a file, not a folder",
            item.name
        )));
    }
    folder_page(&session, &opened, Some(item.id), &query)
}

fn item_row(opened: &Opened, item: &ItemState, searching: bool, shares_folders: bool) -> Row {
    let workspace_id = opened.workspace.workspace_id;
    let location = searching.then(|| {
        let path: Vec<&str> = opened
            .ancestry(item.parent_id)
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        format!("{}/{}", opened.workspace.name, path.join("/"))
    });
    let content = format!("/files/{workspace_id}/{}", item.id);
    Row {
        id: item.id,
        item_url: content.clone(),
        name: item.name.clone(),
        is_folder: item.is_folder,
        href: if item.is_folder {
            content.clone()
        } else {
            format!("{content}/content")
        },
        download: (!item.is_folder).then(|| format!("{content}/download")),
        size: if item.is_folder {
            String::new()
        } else {
            human_size(item.content.size)
        },
        modified: human_time(item.modified_at),
        modified_iso: super::format::iso_time(item.modified_at),
        location,
        mount: None,
        share_href: (item.is_folder && shares_folders).then(|| format!("{content}/share")),
    }
}

/// A workspace mounted in the folder shown: opens as its own top.
fn mount_row(workspace: &WorkspaceInfo) -> Row {
    let top = format!("/files/{}", workspace.workspace_id);
    let badge = if workspace.role == Role::Owner {
        "shared"
    } else {
        "shared with you"
    };
    Row {
        id: workspace.workspace_id,
        name: workspace.name.clone(),
        is_folder: true,
        href: top.clone(),
        download: None,
        size: String::new(),
        modified: String::new(),
        modified_iso: String::new(),
        location: None,
        mount: Some((badge, format!("{top}/sharing"))),
        share_href: None,
        item_url: top,
    }
}

fn folder_page(
    session: &WebSession,
    opened: &Opened,
    folder: Option<Uuid>,
    query: &ListingQuery,
) -> Result<HttpResponse, WebError> {
    let workspace_id = opened.workspace.workspace_id;
    let folder_href = |id: Option<Uuid>| match id {
        Some(id) => format!("/files/{workspace_id}/{id}"),
        None => format!("/files/{workspace_id}"),
    };
    let base = folder_href(folder);
    let search: String = query
        .q
        .as_deref()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_SEARCH_CHARS)
        .collect();
    let mut entries: Vec<Entry<'_>> = if search.is_empty() {
        let mounts = opened
            .mounted
            .iter()
            .filter(|w| w.mount_parent == folder)
            .map(Entry::Mount);
        opened
            .tree
            .children(folder, false)
            .into_iter()
            .map(Entry::Item)
            .chain(mounts)
            .collect()
    } else {
        let needle = search.to_lowercase();
        opened
            .tree
            .items
            .values()
            .filter(|item| !item.deleted && item.name.to_lowercase().contains(&needle))
            // Items in deleted folders are gone with them.
            .filter(|item| opened.ancestry(item.parent_id).iter().all(|a| !a.deleted))
            .map(Entry::Item)
            .collect()
    };
    entries.sort_by(|a, b| compare(*a, *b, query.sort, query.order));
    let total = entries.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let href = |sort: SortKey, order: SortOrder, page: usize| {
        let mut params = form_urlencoded::Serializer::new(String::new());
        if sort != SortKey::Name {
            params.append_pair("sort", sort.as_str());
        }
        if order == SortOrder::Desc {
            params.append_pair("order", "desc");
        }
        if page > 1 {
            params.append_pair("page", &page.to_string());
        }
        if !search.is_empty() {
            params.append_pair("q", &search);
        }
        let params = params.finish();
        if params.is_empty() {
            base.clone()
        } else {
            format!("{base}?{params}")
        }
    };
    let shares_folders = opened.workspace.is_default;
    let rows = entries
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|entry| match entry {
            Entry::Item(item) => item_row(opened, item, !search.is_empty(), shares_folders),
            Entry::Mount(workspace) => mount_row(workspace),
        })
        .collect();
    let sort_links = [
        (SortKey::Name, "Name"),
        (SortKey::Size, "Size"),
        (SortKey::Modified, "Modified"),
    ]
    .into_iter()
    .map(|(key, label)| {
        let current = query.sort == key;
        let order = if current && query.order == SortOrder::Asc {
            SortOrder::Desc
        } else {
            SortOrder::Asc
        };
        SortLink {
            label,
            href: href(key, order, 1),
            state: match (current, query.order) {
                (false, _) => "none",
                (true, SortOrder::Asc) => "ascending",
                (true, SortOrder::Desc) => "descending",
            },
        }
    })
    .collect();
    let ancestry = opened.ancestry(folder);
    let mut crumbs = vec![Crumb {
        name: opened.workspace.name.clone(),
        href: folder_href(None),
    }];
    crumbs.extend(ancestry.iter().map(|a| Crumb {
        name: a.name.clone(),
        href: folder_href(Some(a.id)),
    }));
    let title = ancestry
        .last()
        .map_or_else(|| opened.workspace.name.clone(), |f| f.name.clone());
    render(
        StatusCode::OK,
        &FolderPage {
            layout: Layout::of(session),
            workspace_name: opened.workspace.name.clone(),
            title,
            search_action: base.clone(),
            sort_links,
            rows,
            total,
            pager: Pager::new(page, PAGE_SIZE, total, |page| {
                href(query.sort, query.order, page)
            }),
            parent: folder.map(|id| folder_href(opened.tree.get(id).and_then(|f| f.parent_id))),
            can_write: opened.workspace.role.can_write(),
            new_folder_action: format!("/files/{workspace_id}/new-folder"),
            workspace_id: workspace_id.to_string(),
            folder_id: folder.map(|id| id.to_string()).unwrap_or_default(),
            live_url: opened.live_url(),
            trash_href: format!("/files/{workspace_id}/trash"),
            conflicts_href: format!("/files/{workspace_id}/conflicts"),
            zip_href: match folder {
                Some(id) => format!("/files/{workspace_id}/{id}/zip"),
                None => format!("/files/{workspace_id}/zip"),
            },
            sharing: match folder {
                Some(id) if opened.workspace.is_default => (
                    "Share this folder",
                    format!("/files/{workspace_id}/{id}/share"),
                ),
                _ => ("Sharing", format!("/files/{workspace_id}/sharing")),
            },
            crumbs,
            search,
        },
    )
}
