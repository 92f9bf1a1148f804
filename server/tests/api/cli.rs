//! The administration commands of the `nimbus-server` binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use nimbus_protocol::rpc::ErrorCode;
use nimbus_server::Settings;

use crate::helpers::{login_args, spawn_app};

pub fn nimbus_server(database_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    run(
        Command::new(env!("CARGO_BIN_EXE_nimbus-server")).env("NIMBUS_DATABASE_URL", database_url),
        args,
        stdin,
    )
}

/// `nimbus-server` for the commands that also talk to the metadata servers
/// through RabbitMQ (`user delete`). Waits on a blocking thread, so that the
/// test's own server, on the test's runtime, can answer meanwhile.
pub async fn nimbus_server_of(settings: &Settings, args: &[&str]) -> Output {
    let settings = settings.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(
            Command::new(env!("CARGO_BIN_EXE_nimbus-server"))
                .env("NIMBUS_DATABASE_URL", &settings.database_url)
                .env("NIMBUS_AMQP_URL", &settings.amqp_url)
                .env("NIMBUS_QUEUE_PREFIX", &settings.queue_prefix),
            &args,
            None,
        )
    })
    .await
    .unwrap()
}

fn run(command: &mut Command, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nimbus-server");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn users_are_managed_from_the_command_line() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();

    let added = nimbus_server(
        &url,
        &["user", "add", "bob", "--quota-gib", "2", "--password-stdin"],
        Some("bob's password\n"),
    );
    assert!(stdout(&added).contains("created user bob (account AUTH_bob)"));
    let generated = stdout(&nimbus_server(&url, &["user", "add", "carol"], None));
    let carol_password = generated
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password is printed once")
        .to_owned();

    let listing = stdout(&nimbus_server(&url, &["user", "list"], None));
    assert!(
        listing.contains("bob") && listing.contains("2048"),
        "{listing}"
    );
    app.client
        .login(login_args("carol", &carol_password, "cli"))
        .await
        .unwrap();

    let duplicate = nimbus_server(&url, &["user", "add", "bob"], None);
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
    let invalid = nimbus_server(&url, &["user", "add", "Bad Name"], None);
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("not a valid user name"));

    let bob = app
        .client
        .login(login_args("bob", "bob's password", "cli"))
        .await
        .unwrap();
    stdout(&nimbus_server(&url, &["user", "disable", "bob"], None));
    let error = app
        .client
        .login(login_args("bob", "bob's password", "cli"))
        .await
        .unwrap_err();
    assert_eq!(error.rpc_code(), Some(ErrorCode::AccountDisabled));
    stdout(&nimbus_server(&url, &["user", "enable", "bob"], None));

    // A reset password revokes the devices that knew the old one.
    stdout(&nimbus_server(
        &url,
        &["user", "reset-password", "bob", "--password-stdin"],
        Some("a new password\n"),
    ));
    assert!(app.client.get_account(&bob.token).await.is_err());
    app.client
        .login(login_args("bob", "a new password", "cli"))
        .await
        .unwrap();
    app.stop().await;
}
