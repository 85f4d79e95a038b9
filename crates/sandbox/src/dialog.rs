//! The Facebook Login dialog: a self-contained HTML page and its confirm
//! step, which redirects back with a code or with `access_denied`.

use crate::oauth::data_access_from;
use crate::request::{ApiRequest, Reply};
use crate::route::Target;
use crate::world::{APP_NAME, World};

/// Permissions the dialog knows; anything else is an "Invalid Scopes" page,
/// as Meta shows developers.
const KNOWN_SCOPES: [(&str, &str); 20] = [
    ("public_profile", "Your name and profile picture"),
    ("email", "Your email address"),
    ("pages_show_list", "Show a list of the Pages you manage"),
    ("pages_read_engagement", "Read content posted on your Pages"),
    ("pages_read_user_content", "Read user content on your Pages"),
    (
        "pages_manage_metadata",
        "Manage accounts, settings and webhooks for your Pages",
    ),
    ("pages_manage_posts", "Create and manage content on your Pages"),
    ("pages_manage_engagement", "Manage comments on your Pages"),
    ("pages_messaging", "Manage and access Page conversations in Messenger"),
    (
        "instagram_basic",
        "Access profile and posts from the Instagram account connected to your Page",
    ),
    (
        "instagram_manage_insights",
        "Access insights for the Instagram account connected to your Page",
    ),
    (
        "instagram_content_publish",
        "Create and publish content on the Instagram account connected to your Page",
    ),
    (
        "instagram_manage_comments",
        "Manage comments for the Instagram account connected to your Page",
    ),
    (
        "instagram_manage_messages",
        "Manage messages for the Instagram account connected to your Page",
    ),
    (
        "instagram_shopping_tag_products",
        "Tag products on the Instagram account connected to your Page",
    ),
    ("business_management", "Manage your business"),
    ("read_insights", "Read insights of your Pages"),
    ("ads_read", "Read your ads performance"),
    ("ads_management", "Manage your ads"),
    ("catalog_management", "Manage your product catalogs"),
];

/// The dialog's parameters once they passed Meta's checks.
struct DialogRequest {
    client_id: String,
    redirect_uri: url::Url,
    redirect_raw: String,
    scopes: Vec<String>,
    state: Option<String>,
}

/// `GET /dialog/oauth`: the consent page, or an error page for the developer.
pub(crate) fn show(world: &World, req: &ApiRequest, target: &Target) -> Reply {
    let dialog = match validate(world, req) {
        Ok(dialog) => dialog,
        Err(page) => return page,
    };
    let Some(user) = world.users.get(&world.dialog_user) else {
        return error_page("No one is logged in", "The sandbox has no dialog user.");
    };
    let scopes: String = dialog
        .scopes
        .iter()
        .map(|scope| {
            let declined = user.declined.contains(scope);
            format!(
                r#"<li data-scope="{s}"{class}><span class="check">{mark}</span><span><strong>{s}</strong><br><small>{d}</small></span></li>"#,
                s = escape(scope),
                class = if declined { r#" class="declined""# } else { "" },
                mark = if declined { "&#9744;" } else { "&#9745;" },
                d = escape(describe(scope)),
            )
        })
        .collect();
    let hidden: String = [
        ("client_id", Some(dialog.client_id.as_str())),
        ("redirect_uri", Some(dialog.redirect_raw.as_str())),
        ("scope", Some(dialog.scopes.join(",").as_str())),
        ("state", dialog.state.as_deref()),
        ("response_type", Some("code")),
    ]
    .iter()
    .filter_map(|(name, value)| value.map(|v| format!(r#"<input type="hidden" name="{name}" value="{}">"#, escape(v))))
    .collect();
    let initials: String = user
        .name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    let body = format!(
        r#"<div class="avatar" aria-hidden="true">{initials}</div>
<h1>{app} is requesting access to:</h1>
<p class="who">Continue as <strong id="dialog-user" data-user-id="{user_id}">{name}</strong></p>
<ul class="scopes">{scopes}</ul>
<form method="post" action="{action}">
{hidden}
<div class="buttons">
<button id="cancel" name="decision" value="cancel" type="submit" class="secondary">Cancel</button>
<button id="allow" name="decision" value="allow" type="submit" class="primary">Allow</button>
</div>
</form>
<p class="fine">{app} will receive the information listed above. This is Sandbox Facebook, an emulator: nothing leaves this machine.</p>"#,
        app = escape(APP_NAME),
        user_id = escape(&user.id),
        name = escape(&user.name),
        action = format_args!("{}/dialog/oauth/confirm", target.version_prefix()),
    );
    Reply::html(200, page(&format!("Log in with Facebook | {APP_NAME}"), &body))
}

/// `POST|GET /dialog/oauth/confirm`: Allow issues a code for the dialog
/// user; Cancel returns `access_denied`. Both keep `state`.
pub(crate) fn confirm(world: &mut World, req: &ApiRequest) -> Reply {
    let dialog = match validate(world, req) {
        Ok(dialog) => dialog,
        Err(page) => return page,
    };
    let user_id = world.dialog_user.clone();
    let mut target = dialog.redirect_uri.clone();
    match req.param("decision") {
        Some("allow") => {
            let now = world.now();
            let Some(user) = world.users.get_mut(&user_id) else {
                return error_page("No one is logged in", "The sandbox has no dialog user.");
            };
            // Meta always grants public_profile; declined scopes stay out.
            let requested = dialog
                .scopes
                .iter()
                .cloned()
                .chain(std::iter::once("public_profile".to_string()));
            for scope in requested {
                if !user.declined.contains(&scope) {
                    user.granted.insert(scope);
                }
            }
            user.data_access_expires_at = Some(data_access_from(now));
            let code = world.new_code(&user_id, &dialog.redirect_raw);
            target.query_pairs_mut().append_pair("code", &code);
        }
        Some("cancel") => {
            target
                .query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair("error_code", "200")
                .append_pair("error_description", "Permissions error")
                .append_pair("error_reason", "user_denied");
        }
        _ => return error_page("Something went wrong", "The dialog expects Allow or Cancel."),
    }
    if let Some(state) = &dialog.state {
        target.query_pairs_mut().append_pair("state", state);
    }
    // Meta appends this fragment to every redirect out of the dialog.
    target.set_fragment(Some("_=_"));
    Reply::redirect(target.to_string())
}

fn validate(world: &World, req: &ApiRequest) -> Result<DialogRequest, Reply> {
    let client_id = req.param("client_id").unwrap_or("");
    if client_id != world.app_id {
        return Err(error_page(
            "Invalid App ID",
            "The provided app ID does not look like a valid app ID.",
        ));
    }
    let redirect_raw = req.param("redirect_uri").unwrap_or("");
    let redirect_uri = url::Url::parse(redirect_raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let allowed =
        world.allowed_redirect_uris.is_empty() || world.allowed_redirect_uris.iter().any(|u| u == redirect_raw);
    let Some(redirect_uri) = redirect_uri.filter(|_| allowed) else {
        return Err(error_page(
            "URL blocked",
            "This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings. Make sure Client and Web OAuth Login are on and add all your app domains as Valid OAuth Redirect URIs.",
        ));
    };
    if !matches!(req.param("response_type"), None | Some("code")) {
        return Err(error_page(
            "Unsupported response_type",
            "This sandbox serves the server-side code flow only (response_type=code).",
        ));
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
            &format!(
                "Invalid Scopes: {}. This message is only shown to developers. Users of your app will ignore these permissions if present. Please read the documentation for valid permissions at: https://developers.facebook.com/docs/facebook-login/permissions",
                invalid.join(", ")
            ),
        ));
    }
    Ok(DialogRequest {
        client_id: client_id.to_string(),
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
    Reply::html(400, page(&format!("Error | {APP_NAME}"), &body))
}

fn page(title: &str, card: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{margin:0;background:#f0f2f5;font-family:Helvetica,Arial,sans-serif;color:#1c1e21}}
.bar{{background:#1877f2;color:#fff;padding:10px 16px;font-weight:bold;font-size:18px;display:flex;align-items:center;gap:8px}}
.logo{{display:inline-flex;width:28px;height:28px;border-radius:50%;background:#fff;color:#1877f2;align-items:center;justify-content:center;font-size:22px}}
main{{max-width:420px;margin:40px auto;background:#fff;border-radius:8px;box-shadow:0 2px 4px rgba(0,0,0,.1),0 8px 16px rgba(0,0,0,.1);padding:24px}}
.avatar{{width:56px;height:56px;border-radius:50%;background:#e4e6eb;display:flex;align-items:center;justify-content:center;font-weight:bold;margin:0 auto 12px}}
h1{{font-size:20px;text-align:center;margin:0 0 8px}}
.who{{text-align:center;color:#65676b;margin:0 0 16px}}
.scopes{{list-style:none;padding:0;margin:0 0 20px;border-top:1px solid #dadde1}}
.scopes li{{display:flex;gap:10px;padding:10px 0;border-bottom:1px solid #dadde1}}
.scopes li.declined{{color:#8a8d91;text-decoration:line-through}}
.check{{color:#1877f2;font-size:18px}}
.buttons{{display:flex;gap:8px}}
button{{flex:1;border:0;border-radius:6px;padding:10px;font-size:16px;font-weight:bold;cursor:pointer}}
.primary{{background:#1877f2;color:#fff}}
.secondary{{background:#e4e6eb;color:#050505}}
.fine,.error{{color:#65676b;font-size:12px;margin-top:16px}}
.error{{font-size:14px;color:#be4b49}}
</style>
</head>
<body>
<header class="bar"><span class="logo">f</span>Sandbox Facebook</header>
<main>
{card}
</main>
</body>
</html>
"#
    )
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_attribute_breakers() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
