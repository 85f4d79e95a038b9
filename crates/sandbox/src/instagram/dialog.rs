//! Instagram's authorize dialog (`www.instagram.com/oauth/authorize`): a
//! consent page for the account logged in on it, and its confirm step,
//! which redirects back with `?code=...&state=...#_` or with
//! `error=access_denied&error_reason=user_denied`.

use super::{BASIC_SCOPE, KNOWN_SCOPES};
use crate::dialog::escape;
use crate::request::{ApiRequest, Reply};
use crate::world::{World, random_chars};

struct DialogRequest {
    redirect_uri: url::Url,
    redirect_raw: String,
    scopes: Vec<String>,
    state: Option<String>,
}

/// `GET /oauth/authorize`: the consent page, or an error page for the developer.
pub(crate) fn show(world: &mut World, req: &ApiRequest) -> Reply {
    let dialog = match validate(world, req) {
        Ok(dialog) => dialog,
        Err(page) => return page,
    };
    let account = world.ig_login.dialog_account.clone();
    let declined = world.ig_profile(&account).declined.clone();
    let Some(ig) = world.igs.get(&account) else {
        return error_page("No one is logged in", "The sandbox has no Instagram dialog account.");
    };
    let scopes: String = dialog
        .scopes
        .iter()
        .map(|scope| {
            let off = declined.contains(scope);
            format!(
                r#"<li data-scope="{s}"{class}><span class="check">{mark}</span><span><strong>{s}</strong><br><small>{d}</small></span></li>"#,
                s = escape(scope),
                class = if off { r#" class="declined""# } else { "" },
                mark = if off { "&#9744;" } else { "&#9745;" },
                d = escape(describe(scope)),
            )
        })
        .collect();
    let hidden: String = [
        ("client_id", Some(world.ig_login.app_id.as_str())),
        ("redirect_uri", Some(dialog.redirect_raw.as_str())),
        ("scope", Some(dialog.scopes.join(",").as_str())),
        ("state", dialog.state.as_deref()),
        ("response_type", Some("code")),
    ]
    .iter()
    .filter_map(|(name, value)| value.map(|v| format!(r#"<input type="hidden" name="{name}" value="{}">"#, escape(v))))
    .collect();
    let body = format!(
        r#"<h1>Allow Sandbox App to access your Instagram account?</h1>
<p class="who">Logged in as <strong id="dialog-user" data-user-id="{id}">@{username}</strong></p>
<ul class="scopes">{scopes}</ul>
<form method="post" action="/ig/www/oauth/authorize/confirm">
{hidden}
<div class="buttons">
<button id="cancel" name="decision" value="cancel" type="submit" class="secondary">Cancel</button>
<button id="allow" name="decision" value="allow" type="submit" class="primary">Allow</button>
</div>
</form>
<p class="fine">This is Sandbox Instagram, an emulator: nothing leaves this machine.</p>"#,
        id = escape(&ig.id),
        username = escape(&ig.username),
    );
    Reply::html(200, page("Log in with Instagram", &body))
}

/// `POST /oauth/authorize/confirm`: Allow issues a one-hour, one-use code
/// for the granted scopes; Cancel answers `access_denied`. Both keep `state`
/// and end in the `#_` fragment Meta appends.
pub(crate) fn confirm(world: &mut World, req: &ApiRequest) -> Reply {
    let dialog = match validate(world, req) {
        Ok(dialog) => dialog,
        Err(page) => return page,
    };
    let mut target = dialog.redirect_uri.clone();
    match req.param("decision") {
        Some("allow") => {
            let account = world.ig_login.dialog_account.clone();
            let declined = world.ig_profile(&account).declined.clone();
            let granted: Vec<String> = dialog.scopes.into_iter().filter(|s| !declined.contains(s)).collect();
            let code = format!("AQ{}", random_chars(180, true));
            let now = world.now();
            world.ig_login.codes.insert(
                code.clone(),
                super::Code {
                    ig_id: account,
                    redirect_uri: dialog.redirect_raw.clone(),
                    scopes: granted,
                    issued_at: now,
                    used: false,
                },
            );
            world.issued.push(code.clone());
            target.query_pairs_mut().append_pair("code", &code);
        }
        Some("cancel") => {
            target
                .query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair("error_reason", "user_denied")
                .append_pair("error_description", "The user denied your request.");
        }
        _ => return error_page("Something went wrong", "The dialog expects Allow or Cancel."),
    }
    if let Some(state) = &dialog.state {
        target.query_pairs_mut().append_pair("state", state);
    }
    target.set_fragment(Some("_"));
    Reply::redirect(target.to_string())
}

fn validate(world: &World, req: &ApiRequest) -> Result<DialogRequest, Reply> {
    if req.param("client_id") != Some(world.ig_login.app_id.as_str()) {
        return Err(error_page("Invalid Request", "Invalid platform app"));
    }
    let redirect_raw = req.param("redirect_uri").unwrap_or("");
    let allowed =
        world.allowed_redirect_uris.is_empty() || world.allowed_redirect_uris.iter().any(|u| u == redirect_raw);
    let redirect_uri = url::Url::parse(redirect_raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && allowed);
    let Some(redirect_uri) = redirect_uri else {
        return Err(error_page("Invalid Request", "Invalid redirect_uri"));
    };
    if req.param("response_type") != Some("code") {
        return Err(error_page("Invalid Request", "Only response_type=code is supported"));
    }
    let scopes: Vec<String> = req
        .param("scope")
        .unwrap_or("")
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let invalid: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !KNOWN_SCOPES.iter().any(|(known, _)| known == s))
        .collect();
    if !invalid.is_empty() {
        return Err(error_page(
            "Invalid Scopes",
            &format!("Invalid Scopes: {}", invalid.join(", ")),
        ));
    }
    if !scopes.iter().any(|s| s == BASIC_SCOPE) {
        return Err(error_page("Invalid Scopes", "instagram_business_basic is required"));
    }
    Ok(DialogRequest {
        redirect_uri,
        redirect_raw: redirect_raw.to_string(),
        scopes,
        state: req.param("state").map(str::to_string),
    })
}

fn describe(scope: &str) -> &'static str {
    KNOWN_SCOPES
        .iter()
        .find(|(name, _)| *name == scope)
        .map_or("", |(_, description)| description)
}

fn error_page(title: &str, message: &str) -> Reply {
    let body = format!(
        r#"<h1 id="error-title">{}</h1><p class="error" id="error-message">{}</p>"#,
        escape(title),
        escape(message)
    );
    Reply::html(400, page(title, &body))
}

fn page(title: &str, card: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | Sandbox Instagram</title>
<style>
body{{margin:0;background:#fafafa;font-family:Helvetica,Arial,sans-serif;color:#262626}}
.bar{{background:linear-gradient(90deg,#833ab4,#fd1d1d,#fcb045);color:#fff;padding:10px 16px;font-weight:bold;font-size:18px}}
main{{max-width:420px;margin:40px auto;background:#fff;border:1px solid #dbdbdb;border-radius:8px;padding:24px}}
h1{{font-size:20px;text-align:center;margin:0 0 8px}}
.who{{text-align:center;color:#737373;margin:0 0 16px}}
.scopes{{list-style:none;padding:0;margin:0 0 20px;border-top:1px solid #dbdbdb}}
.scopes li{{display:flex;gap:10px;padding:10px 0;border-bottom:1px solid #dbdbdb}}
.scopes li.declined{{color:#a8a8a8;text-decoration:line-through}}
.buttons{{display:flex;gap:8px}}
button{{flex:1;border:0;border-radius:8px;padding:10px;font-size:16px;font-weight:bold;cursor:pointer}}
.primary{{background:#0095f6;color:#fff}}
.secondary{{background:#efefef;color:#000}}
.fine,.error{{color:#737373;font-size:12px;margin-top:16px}}
.error{{font-size:14px;color:#ed4956}}
</style>
</head>
<body>
<header class="bar">Sandbox Instagram</header>
<main>
{card}
</main>
</body>
</html>
"#
    )
}
