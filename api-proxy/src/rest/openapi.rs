//! The OpenAPI 3.1 document of the REST API v2 and the OAuth endpoints,
//! served at `/openapi.json`. Built in code next to the routes it describes
//! (the integration tests check that every operation listed is served).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::state::RestState;

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn item_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}
    })
}

fn file_parameter() -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": "File id (a UUID).",
        "schema": {"type": "string", "format": "uuid"}
    })
}

/// A UUID, or `0` (also `null`) for the top of the default workspace.
fn folder_id_schema() -> Value {
    json!({"anyOf": [{"type": "string", "format": "uuid"}, {"enum": ["0", "null"]}]})
}

fn folder_parameter() -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": "Folder id (a UUID); `0` (or `null`) is the root of the default \
            workspace, and a workspace's id its top.",
        "schema": folder_id_schema()
    })
}

fn workspace_parameter() -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": "A workspace id, which names the workspace's top as a folder, or the id \
            of a folder that became that workspace when it was shared (`0`: the default \
            workspace, which is never shared).",
        "schema": folder_id_schema()
    })
}

fn share_parameter() -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": "What to share: a workspace id (its top), or the id of a folder of the \
            default workspace, which first becomes a workspace of its own (same item ids and \
            version history, in the same place for its owner and the owner's devices) whose \
            id the answer's `folder.id` gives; the folder's id keeps naming that workspace. \
            `0`, the default workspace, is never shared; a folder inside any other workspace \
            is refused (400, shares do not nest), as is a folder holding a mount of another \
            workspace or one of an end-to-end encrypted workspace.",
        "schema": folder_id_schema()
    })
}

fn proposal_parameter() -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": "Proposal id (a UUID).",
        "schema": {"type": "string", "format": "uuid"}
    })
}

fn version_parameter() -> Value {
    json!({
        "name": "n", "in": "path", "required": true,
        "description": "Version number (1 is the first).",
        "schema": {"type": "integer", "minimum": 1, "maximum": u64::MAX}
    })
}

/// The content of a file, as the request body.
fn content_body() -> Value {
    json!({
        "required": true,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    })
}

/// A folder listing: an Item with `contents`, or a workspace's top.
fn folder_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"oneOf": [
            {"$ref": "#/components/schemas/Item"}, {"$ref": "#/components/schemas/Root"}]}}}
    })
}

/// An HTML page of the OAuth authorization (errors included).
fn page_response(description: &str) -> Value {
    json!({"description": description, "content": {"text/html": {"schema": {"type": "string"}}}})
}

fn api_header() -> Value {
    json!({"$ref": "#/components/parameters/StackSyncApi"})
}

fn name_parent_body() -> Value {
    json!({
        "required": true,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/NameAndParent"}},
            "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/NameAndParent"}}
        }
    })
}

/// A REST operation with the common parameters and error answers.
fn operation(summary: &str, mut parameters: Vec<Value>, responses: Value) -> Value {
    parameters.insert(0, api_header());
    let mut responses = responses;
    let errors = responses.as_object_mut().expect("responses are an object");
    for (status, text) in [
        (
            "400",
            "Malformed request, or a name already used in the folder.",
        ),
        (
            "401",
            "Missing or refused OAuth signature (bad signature, unknown or revoked token, replayed nonce, stale timestamp).",
        ),
        (
            "403",
            "Read-only share, or content of an end-to-end encrypted workspace.",
        ),
        ("404", "No such item among the caller's workspaces."),
        (
            "409",
            "Another device changed the item first; nothing was changed.",
        ),
        (
            "429",
            "Too many requests from this device, or too many failed sign-ins; wait the Retry-After seconds.",
        ),
        ("503", "The metadata servers are unavailable."),
    ] {
        errors.entry(status).or_insert_with(|| error_response(text));
    }
    json!({
        "summary": summary,
        "security": [{"oauth1": []}],
        "parameters": parameters,
        "responses": responses
    })
}

/// `operation` with a request body.
fn with_body(mut operation: Value, body: Value) -> Value {
    operation["requestBody"] = body;
    operation
}

/// The document, for a deployment reached at `public_url`.
pub fn document(public_url: &str) -> Value {
    let mut document = base_document(public_url);
    for part in [sharing_document(), links_document(), oauth_document()] {
        for section in ["paths", "schemas"] {
            let Some(entries) = part[section].as_object() else {
                continue;
            };
            let target = match section {
                "paths" => &mut document["paths"],
                _ => &mut document["components"]["schemas"],
            };
            let target = target.as_object_mut().expect("sections are objects");
            for (name, value) in entries {
                target.insert(name.clone(), value.clone());
            }
        }
    }
    document
}

/// The sharing endpoints and their schemas ([`super::sharing`]); apart from
/// the rest (as [`oauth_document`]) only to keep each `json!` within the
/// macro recursion limit.
fn sharing_document() -> Value {
    json!({
        "paths": {
            "/v1/folder/{id}/share": {
                "post": with_body(operation("Share the folder {id} with users: a workspace, or a folder of the default workspace made a workspace of its own first, in one call (nobody joins until they accept; only the owner shares)",
                    vec![share_parameter()],
                    json!({"201": {"description": "The addressees, the proposals made, and the shared workspace's top as the owner sees it.",
                        "content": {"application/json": {"schema": {"type": "object",
                            "properties": {"shared_to": {"type": "array", "items": {"$ref": "#/components/schemas/Addressee"}},
                                "proposals": {"type": "array", "items": {"$ref": "#/components/schemas/Proposal"}},
                                "folder": {"$ref": "#/components/schemas/WorkspaceFolder"}}}}}},
                        "400": error_response("Malformed body, nobody named, the role owner, an unknown addressee, the default workspace, a file, or a folder that cannot become a workspace: inside another workspace (shares do not nest), holding a mount, end-to-end encrypted, or named like one of the caller's mounts. Nothing is converted when the body is refused."),
                        "403": error_response("The caller is not the workspace's owner (editors and viewers do not share).")})),
                    json!({"required": true, "content": {"application/json": {"schema": {"oneOf": [
                            {"type": "array", "items": {"type": "string"}, "description": "User names or e-mail addresses; they are proposed the editor role (StackSync)."},
                            {"type": "object", "required": ["users"], "properties": {
                                "users": {"type": "array", "items": {"type": "string"}},
                                "role": {"enum": ["editor", "viewer"]},
                                "message": {"type": "string", "maxLength": 1000}}}]}}}}))
            },
            "/v1/folder/{id}/unshare": {
                "post": with_body(operation("End the access of members of the workspace whose top {id} is",
                    vec![workspace_parameter()],
                    json!({"200": {"description": "The members removed (unknown addressees are ignored).",
                        "content": {"application/json": {"schema": {"type": "object",
                            "properties": {"unshared_to": {"type": "array", "items": {"$ref": "#/components/schemas/Addressee"}}}}}}}})),
                    json!({"required": true, "content": {"application/json": {"schema": {"oneOf": [
                            {"type": "array", "items": {"type": "string"}, "description": "Members to remove, by user name or e-mail address."},
                            {"type": "object", "required": ["all"], "properties": {"all": {"const": true}},
                                "description": "Remove every member but the owner, and every pending proposal."}]}}}}))
            },
            "/v1/folder/{id}/members": {
                "get": operation("The members of the workspace whose top {id} is", vec![workspace_parameter()],
                    json!({"200": {"description": "Owner first.", "content": {"application/json": {"schema": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Member"}}}}}}))
            },
            "/v1/proposals": {
                "get": operation("Share proposals to and from the caller, newest first", vec![],
                    json!({"200": {"description": "Incoming and outgoing proposals.", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {
                            "incoming": {"type": "array", "items": {"$ref": "#/components/schemas/Proposal"}},
                            "outgoing": {"type": "array", "items": {"$ref": "#/components/schemas/Proposal"}}}}}}}}))
            },
            "/v1/proposals/{id}/accept": {
                "post": with_body(operation("Join the proposed workspace (not an end-to-end encrypted one: that needs its passphrase, checked by a desktop client)", vec![proposal_parameter()],
                    json!({"200": {"description": "The workspace's top, as the caller names it.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WorkspaceFolder"}}}}})),
                    json!({"required": false, "content": {"application/json": {"schema": {
                            "type": "object", "properties": {
                                "name": {"type": "string", "description": "Mount name (default: the owner's name; ' (2)' is added on a clash)."},
                                "parent": {"type": "string", "description": "A folder of the default workspace to mount it in."}}}}}}))
            },
            "/v1/proposals/{id}/decline": {
                "post": operation("Decline a proposal (the owner may propose again)", vec![proposal_parameter()],
                    json!({"200": {"description": "The proposal.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Proposal"}}}}}))
            }
        },
        "schemas": {
                "Addressee": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "email": {"type": ["string", "null"]}}
                },
                "WorkspaceFolder": {
                    "type": "object",
                    "description": "A workspace as the folder a member sees: its top, named by the workspace's id.",
                    "required": ["id", "filename", "is_folder", "is_root", "role"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "filename": {"type": "string", "description": "The member's name for it."},
                        "is_folder": {"const": true}, "is_root": {"const": true},
                        "parent_id": {"type": ["string", "null"], "description": "The folder of the member's default workspace it is in (null: the top)."},
                        "role": {"enum": ["owner", "editor", "viewer"]}}
                },
                "Member": {
                    "type": "object",
                    "required": ["name", "is_owner", "joined_at", "role"],
                    "properties": {
                        "name": {"type": "string"}, "email": {"type": ["string", "null"]},
                        "is_owner": {"type": "boolean"},
                        "joined_at": {"type": "string", "format": "date-time"},
                        "role": {"enum": ["owner", "editor", "viewer"]}
                    }
                },
                "Proposal": {
                    "type": "object",
                    "description": "Times are milliseconds since the epoch; a pending proposal expires 30 days after it is made.",
                    "properties": {
                        "proposal_id": {"type": "string", "format": "uuid"},
                        "workspace_id": {"type": "string", "format": "uuid"},
                        "workspace_name": {"type": "string"},
                        "proposer_id": {"type": "string", "format": "uuid"}, "proposer_name": {"type": "string"},
                        "invitee_id": {"type": "string", "format": "uuid"}, "invitee_name": {"type": "string"},
                        "addressed_as": {"type": "string"},
                        "role": {"enum": ["editor", "viewer"]},
                        "message": {"type": "string"},
                        "status": {"enum": ["pending", "accepted", "declined", "cancelled", "expired"]},
                        "created_at": {"type": "integer"}, "expires_at": {"type": "integer"},
                        "workspace_size": {"type": "integer", "description": "Bytes of the workspace's live files."},
                        "encryption": {"enum": ["none", "server", "client"]},
                        "key_check": {"type": "string", "description": "Incoming proposals of end-to-end encrypted (client) workspaces only: the check a desktop client compares with its passphrase's keys. Such a proposal is accepted only from a desktop client; accepting it here is refused (400)."}
                    }
                }
        }
    })
}

/// The public link endpoints ([`super::links`]).
fn links_document() -> Value {
    let link_parameter = json!({"name": "id", "in": "path", "required": true,
        "description": "The link's id, from GET /v1/links.", "schema": {"type": "string", "format": "uuid"}});
    json!({
        "paths": {
            "/v1/link": {
                "post": with_body(operation("Publish a file, a folder or a workspace's top at a public link", vec![],
                    json!({"201": {"description": "The link and its URL, shown this once only.",
                        "content": {"application/json": {"schema": {"type": "object", "properties": {
                            "link": {"$ref": "#/components/schemas/Link"},
                            "url": {"type": "string", "description": "…/s/{token}: anyone holding it can open the link."}}}}}}})),
                    json!({"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["id"], "additionalProperties": false, "properties": {
                            "id": {"type": "string", "description": "A file or folder id, a workspace id (its top), or 0 (the top of the default workspace)."},
                            "expires_at": {"type": "string", "format": "date-time"},
                            "password": {"type": "string", "minLength": 8},
                            "max_downloads": {"type": "integer", "minimum": 1}}}}}}))
            },
            "/v1/links": {
                "get": operation("The caller's public links, newest first (never their tokens)", vec![],
                    json!({"200": {"description": "The links.", "content": {"application/json": {"schema": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Link"}}}}}}))
            },
            "/v1/link/{id}": {
                "delete": operation("End one of the caller's public links at once", vec![link_parameter],
                    json!({"200": {"description": "The revoked link.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Link"}}}}}))
            }
        },
        "schemas": {
            "Link": {
                "type": "object",
                "description": "Times are milliseconds since the epoch.",
                "properties": {
                    "link_id": {"type": "string", "format": "uuid"},
                    "workspace_id": {"type": "string", "format": "uuid"},
                    "item_id": {"type": ["string", "null"], "format": "uuid"},
                    "name": {"type": "string"}, "is_folder": {"type": "boolean"},
                    "has_password": {"type": "boolean"},
                    "created_at": {"type": "integer"}, "expires_at": {"type": ["integer", "null"]},
                    "max_downloads": {"type": ["integer", "null"]}, "downloads": {"type": "integer"},
                    "status": {"enum": ["active", "revoked", "expired", "used_up", "target_deleted", "creator_lost_access"]}
                }
            }
        }
    })
}

fn base_document(public_url: &str) -> Value {
    let item_ok = |text: &str| json!({"200": item_response(text)});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Nimbus REST API v2",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "StackSync's REST API v2 for web and mobile clients. Requests carry \
                `StackSync-API: v2` and are signed with OAuth 1.0a (RFC 5849, HMAC-SHA1 or \
                PLAINTEXT over https) for the URL under the server's public URL. Ids are UUIDs; \
                `0` (or no parent) is the top of the user's default workspace."
        },
        "servers": [{"url": public_url}],
        "components": {
            "securitySchemes": {
                "oauth1": {
                    "type": "http", "scheme": "OAuth",
                    "description": "OAuth 1.0a: obtain a token with /oauth/request_token, \
                        /oauth/authorize and /oauth/access_token."
                }
            },
            "parameters": {
                "StackSyncApi": {
                    "name": "StackSync-API", "in": "header", "required": true,
                    "schema": {"type": "string", "enum": ["v2"]}
                }
            },
            "schemas": {
                "Item": {
                    "type": "object",
                    "required": ["id", "parent_id", "filename", "is_folder", "status",
                                 "modified_at", "version", "checksum", "size", "mimetype"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "parent_id": {"type": ["string", "null"], "format": "uuid"},
                        "filename": {"type": "string"},
                        "is_folder": {"type": "boolean"},
                        "status": {"type": "string", "enum": ["NEW", "CHANGED", "RENAMED", "MOVED", "DELETED"]},
                        "modified_at": {"type": "string", "format": "date-time"},
                        "version": {"type": "integer", "minimum": 1},
                        "checksum": {"type": ["string", "null"], "description": "blake3:<hex>, keyed per workspace"},
                        "size": {"type": "integer", "minimum": 0},
                        "mimetype": {"type": "string"},
                        "chunks": {"type": "array", "items": {"type": "string"}, "description": "files only"},
                        "is_root": {"type": "boolean", "description": "folders only"},
                        "contents": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                        "versions": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}, "description": "GET /v1/file/{id}/versions: newest first"}
                    }
                },
                "Root": {
                    "type": "object",
                    "description": "The top of a workspace: of the default one (`id` null, `filename` \
                        \"root\"), or of another (its id, and the caller's name for it).",
                    "required": ["id", "filename", "is_folder", "is_root", "contents"],
                    "properties": {
                        "id": {"type": ["string", "null"], "format": "uuid"},
                        "filename": {"type": "string"},
                        "is_folder": {"const": true},
                        "is_root": {"const": true},
                        "mimetype": {"type": "string"},
                        "size": {"type": "integer"},
                        "contents": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
                    }
                },
                "NameAndParent": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "parent": {"anyOf": [{"type": "string", "format": "uuid"}, {"enum": ["0", "null", "", 0, null]}],
                            "description": "folder id; 0, null or absent: the root"}
                    }
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "code", "description"],
                    "properties": {
                        "error": {"type": "integer", "description": "the HTTP status"},
                        "code": {"type": "string"},
                        "description": {"type": "string"}
                    }
                },
                "TokenCredentials": {
                    "type": "object",
                    "description": "application/x-www-form-urlencoded",
                    "properties": {
                        "oauth_token": {"type": "string"},
                        "oauth_token_secret": {"type": "string"},
                        "oauth_callback_confirmed": {"type": "string"}
                    }
                }
            }
        },
        "paths": {
            "/v1/file": {
                "post": with_body(operation("Upload a new file (the body is its content)", vec![
                    json!({"name": "name", "in": "query", "required": true, "schema": {"type": "string"}}),
                    json!({"name": "parent", "in": "query", "schema": folder_id_schema(), "description": "folder id; 0 or absent: the root"}),
                ], json!({"201": item_response("The new file."), "413": error_response("Over quota."), "415": error_response("Form-encoded content."), "507": error_response("The object store is out of space; nothing was stored or changed. Retry once space is freed.")})),
                    content_body())
            },
            "/v1/file/{id}": {
                "get": operation("File metadata", vec![file_parameter()], item_ok("The file.")),
                "put": {
                    "requestBody": name_parent_body(),
                    "summary": "Rename and/or move", "security": [{"oauth1": []}],
                    "parameters": [api_header(), file_parameter()],
                    "responses": operation("", vec![], item_ok("The renamed file."))["responses"].clone()
                },
                "delete": operation("Delete (a DELETED version; content kept)", vec![file_parameter()], item_ok("The deleted file."))
            },
            "/v1/file/{id}/data": {
                "get": operation("Download the content (streamed)", vec![file_parameter()],
                    json!({"200": {"description": "The content.", "content": {"application/octet-stream": {}}}})),
                "put": with_body(operation("Replace the content (a new version)", vec![file_parameter()],
                    json!({"200": item_response("The file's new version."), "413": error_response("Over quota."), "415": error_response("Form-encoded content."), "507": error_response("The object store is out of space; nothing was stored or changed. Retry once space is freed.")})),
                    content_body())
            },
            "/v1/file/{id}/versions": {
                "get": operation("The file with its versions, newest first (400 for a folder)", vec![file_parameter()],
                    item_ok("The file's current version with `versions`."))
            },
            "/v1/file/{id}/versions/{n}": {
                "get": operation("One version's metadata", vec![file_parameter(), version_parameter()],
                    item_ok("Version n."))
            },
            "/v1/file/{id}/version/{n}": {
                "get": operation("One version's metadata (as /versions/{n})", vec![file_parameter(), version_parameter()],
                    item_ok("Version n."))
            },
            "/v1/file/{id}/version/{n}/data": {
                "get": operation("Download one version's content (streamed; 404 for a deletion)",
                    vec![file_parameter(), version_parameter()],
                    json!({"200": {"description": "The content of version n.", "content": {"application/octet-stream": {}}}}))
            },
            "/v1/file/{id}/version/{n}/restore": {
                "post": operation("Restore version n's content as a new version, under the current name and \
                    place (a deleted file is recreated there if the name is free)",
                    vec![file_parameter(), version_parameter()],
                    item_ok("The file's new version."))
            },
            "/v1/folder": {
                "post": {
                    "requestBody": name_parent_body(),
                    "summary": "Create a folder", "security": [{"oauth1": []}],
                    "parameters": [api_header()],
                    "responses": operation("", vec![], json!({"201": item_response("The new folder.")}))["responses"].clone()
                }
            },
            "/v1/folder/{id}": {
                "get": operation("A folder with its children (0: the root)", vec![folder_parameter()],
                    json!({"200": folder_response("The folder (an Item with contents, or the Root).")})),
                "put": {
                    "requestBody": name_parent_body(),
                    "summary": "Rename and/or move", "security": [{"oauth1": []}],
                    "parameters": [api_header(), folder_parameter()],
                    "responses": operation("", vec![], item_ok("The renamed folder."))["responses"].clone()
                },
                "delete": operation("Delete the folder and everything in it", vec![folder_parameter()], item_ok("The deleted folder."))
            },
            "/v1/folder/{id}/contents": {
                "get": operation("A folder with its children", vec![folder_parameter(),
                    json!({"name": "include_deleted", "in": "query", "schema": {"type": "boolean"}})],
                    json!({"200": folder_response("As GET /v1/folder/{id}.")}))
            }
        }
    })
}

/// The OAuth endpoints ([`crate::oauth`]).
fn oauth_document() -> Value {
    let token_endpoint = |summary: &str, credentials: &str| {
        json!({
            "summary": summary,
            "responses": {
                "200": {"description": credentials, "content": {"application/x-www-form-urlencoded": {
                    "schema": {"$ref": "#/components/schemas/TokenCredentials"}}}},
                "400": error_response("Malformed OAuth parameters."),
                "401": error_response("Refused signature, or an unknown, expired or used token."),
                "429": error_response("Too many requests; wait the Retry-After seconds."),
                "503": error_response("The metadata servers are unavailable.")
            }
        })
    };
    let request_token = token_endpoint(
        "Temporary credentials (RFC 5849 §2.1), signed by the consumer with oauth_callback",
        "oauth_token, oauth_token_secret, oauth_callback_confirmed (form-encoded)",
    );
    let access_token = token_endpoint(
        "Token credentials (RFC 5849 §2.3), signed with the request token and oauth_verifier",
        "oauth_token, oauth_token_secret (form-encoded)",
    );
    let user_token = json!({"name": "X-Auth-Token", "in": "header", "required": true,
        "description": "The user's own token (TempAuth, or the web session's).", "schema": {"type": "string"}});
    json!({"paths": {
        "/oauth/request_token": {"post": request_token.clone(), "get": request_token},
        "/oauth/access_token": {"post": access_token.clone(), "get": access_token},
        "/oauth/authorize": {
            "get": {
                "summary": "The login and consent page (HTML)",
                "parameters": [{"name": "oauth_token", "in": "query", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": page_response("The login and consent form."),
                    "400": {"description": "No request token, or an unknown, expired or used one (a page); an unreadable query string (JSON).",
                        "content": {"text/html": {"schema": {"type": "string"}},
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "503": page_response("The metadata servers are unavailable.")
                }
            },
            "post": {
                "summary": "The user's decision: redirects to the callback with oauth_token and oauth_verifier, or shows the verifier (oob)",
                "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "required": ["oauth_token", "username", "password", "action"],
                    "properties": {"oauth_token": {"type": "string"}, "username": {"type": "string"},
                        "password": {"type": "string"}, "action": {"enum": ["allow", "deny"]}}}}}},
                "responses": {
                    "200": page_response("The verifier (oob), or that access was not granted."),
                    "302": {"description": "To the callback."},
                    "400": {"description": "An unknown, expired or used request token (a page); an unreadable form (JSON).",
                        "content": {"text/html": {"schema": {"type": "string"}},
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "401": page_response("Wrong user name or password: the form again."),
                    "403": page_response("A disabled account."),
                    "415": error_response("The body is not a form."),
                    "429": page_response("Too many failed sign-ins: the form again."),
                    "503": page_response("The metadata servers are unavailable.")
                }
            }
        },
        "/oauth/tokens": {
            "get": {
                "summary": "The access tokens the user granted",
                "parameters": [user_token.clone()],
                "responses": {
                    "200": {"description": "The user's access tokens.", "content": {"application/json": {"schema": {
                        "type": "array", "items": {"type": "object",
                            "required": ["token", "consumer_name", "device_id", "created_at"],
                            "properties": {"token": {"type": "string"}, "consumer_name": {"type": "string"},
                                "device_id": {"type": "string", "format": "uuid"}, "created_at": {}}}}}}},
                    "401": error_response("No or a wrong user token."),
                    "429": error_response("Too many requests; wait the Retry-After seconds."),
                    "503": error_response("The metadata servers are unavailable.")
                }
            }
        },
        "/oauth/tokens/{token}": {
            "delete": {
                "summary": "Revoke one access token",
                "parameters": [user_token, {"name": "token", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "204": {"description": "Revoked."},
                    "401": error_response("No or a wrong user token."),
                    "404": error_response("Not one of the user's tokens."),
                    "429": error_response("Too many requests; wait the Retry-After seconds."),
                    "503": error_response("The metadata servers are unavailable.")
                }
            }
        }
    }})
}

/// `GET /openapi.json`.
pub async fn serve(state: web::Data<RestState>) -> HttpResponse {
    HttpResponse::Ok().json(document(&state.public_url))
}
