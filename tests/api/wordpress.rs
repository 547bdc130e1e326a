//! The WordPress plugin in a real WordPress: Debian's package under `php -S` on MariaDB, the plugin installed
//! from the server's own `plugin.zip`, set up through its settings page and a shortcode in Chromium
//! (`tests/peers/wordpress.mjs`), and the widget checked on the published page.

use std::path::Path;
use std::process::{Child, Command};

use serde_json::{Value, json};

use crate::helpers::{free_port, node_peer, root, screenshots, spawn_app};

/// `php -S`, stopped when the test ends.
struct PhpServer(Child);

impl Drop for PhpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn the_plugin_installs_from_the_server_is_set_up_in_wordpress_and_its_shortcode_shows_the_widget()
 {
    let wordpress = root().join("tests/peers/.cache/wordpress/usr/share/wordpress");
    assert!(
        wordpress.join("wp-settings.php").exists(),
        "WordPress is missing: `make test` unpacks it (make wordpress)"
    );
    let app = spawn_app().await;
    let work = app.settings.data_dir.join("wordpress-site");
    std::fs::create_dir_all(&work).unwrap();
    let site = work.join("wordpress");
    run(Command::new("cp").arg("-rL").arg(&wordpress).arg(&site));
    std::fs::copy(
        root().join("tests/peers/wordpress/wp-config.php.template"),
        site.join("wp-config.php"),
    )
    .unwrap();

    // The plugin, as a site owner installs it: the zip the server offers, unpacked into the plugins folder.
    let zip = app
        .client
        .get(app.url("/api/v1/integrations/wordpress/plugin.zip"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(work.join("ai-assistant.zip"), &zip).unwrap();
    run(Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(work.join("ai-assistant.zip"))
        .arg(site.join("wp-content/plugins")));
    assert!(
        site.join("wp-content/plugins/ai-assistant/ai-assistant.php")
            .exists()
    );

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let database = format!("wp_{}", ulid::Ulid::new().to_string().to_lowercase());
    let password = "correct horse battery staple";
    let env = [
        ("WP_URL", url.clone()),
        ("WP_DB_NAME", database.clone()),
        ("WP_DB_HOST", "127.0.0.1:3306".to_owned()),
        ("WP_DEBUG_LOG", work.join("debug.log").display().to_string()),
        ("WP_ADMIN_PASSWORD", password.to_owned()),
    ];
    let setup = root().join("tests/peers/wordpress/setup.php");
    let installed: Value = serde_json::from_str(
        run(Command::new("php")
            .arg(&setup)
            .arg(&site)
            .envs(env.iter().cloned()))
        .trim(),
    )
    .unwrap();
    assert_eq!(
        installed["plugins"],
        json!(["ai-assistant/ai-assistant.php"]),
        "{installed}"
    );
    let _php = PhpServer(
        Command::new("php")
            .arg("-S")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-t")
            .arg(&site)
            .arg(root().join("tests/peers/wordpress/router.php"))
            .envs(env.iter().cloned())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut up = false;
    for _ in 0..100 {
        if let Ok(reply) = app.client.get(format!("{url}/wp-login.php")).send().await
            && reply.status().is_success()
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "WordPress answers under php -S");

    // The screenshots stay for a person to look at, beside the widget's.
    let shots = screenshots();
    let job = json!({
        "chromium": "/usr/bin/chromium",
        "wordpress": url,
        "admin": "admin",
        "password": password,
        "server": app.address,
        "apiKey": app.key,
        "assistantId": app.org.assistant.id,
        "out": shots,
    });
    let output = node_peer("wordpress.mjs", &job).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let drop_database = || {
        run(Command::new("php")
            .arg(&setup)
            .arg("--drop-database")
            .envs(env.iter().cloned()));
    };
    if !output.status.success() {
        drop_database();
        panic!(
            "the WordPress driver failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    drop_database();

    // The settings page: saved, the connection checked, the assistants listed, the key never shown again.
    for flag in [
        "settingsSaved",
        "connectionOk",
        "assistantsListed",
        "keySaved",
    ] {
        assert_eq!(seen[flag], true, "{flag}: {seen}");
    }
    assert_eq!(
        seen["keyInPage"], false,
        "the API key is not echoed: {seen}"
    );
    assert_eq!(seen["savedAssistant"], app.org.assistant.id.as_str());
    assert_eq!(seen["adminConsoleErrors"], json!([]));
    // The page with the shortcode: the widget in the shortcode's theme and corner.
    assert_eq!(seen["launcher"]["visible"], true, "{seen}");
    let x = seen["launcher"]["box"]["x"].as_f64().unwrap();
    let y = seen["launcher"]["box"]["y"].as_f64().unwrap();
    let width = seen["launcher"]["viewport"]["width"].as_f64().unwrap();
    let height = seen["launcher"]["viewport"]["height"].as_f64().unwrap();
    assert!(x < width / 2.0 && y > height / 2.0, "bottom left: {seen}");
    assert_eq!(seen["theme"], "dark");
    assert_eq!(seen["position"], "bottom-left");
    let tag = seen["scriptTag"].as_str().unwrap();
    for part in [
        format!("src=\"{}/embed.js\"", app.address),
        format!("data-assistant-id=\"{}\"", app.org.assistant.id),
        "data-theme=\"dark\"".to_owned(),
        "data-position=\"bottom-left\"".to_owned(),
        format!("data-page-url=\"{}\"", seen["pageUrl"].as_str().unwrap()),
        "defer".to_owned(),
    ] {
        assert!(tag.contains(&part), "{part} in {tag}");
    }
    assert_eq!(seen["scriptTags"], 1);
    assert_eq!(seen["consoleErrors"], json!([]), "{seen}");
    // "Every page" is off: a page without the shortcode has no widget.
    assert_eq!(seen["otherPageHasWidget"], false);
    // Nothing of the plugin's in WordPress's log (WordPress 6.1's own PHP 8.2 notices are there).
    let log = std::fs::read_to_string(work.join("debug.log")).unwrap_or_default();
    let ours: Vec<&str> = log.lines().filter(|l| l.contains("ai-assistant")).collect();
    assert!(ours.is_empty(), "{ours:?}");
    assert!(Path::new(&shots.join("wordpress-page.png")).exists());
}
