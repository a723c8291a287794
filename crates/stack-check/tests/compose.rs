//! `docker-compose.yml` and the `Dockerfile`, against each other and the
//! contract's services, ports and variables.

#![allow(
    clippy::unwrap_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use stack_check::{RUST_SERVICES, Repo, Yaml, YamlExt};

/// Binaries the stack runs that are not services of the contract: they
/// listen on nothing.
const CLIENTS: [&str; 1] = ["loadgen"];

/// Who calls whom, by the callee URL variable the caller reads.
const CALLS: [(&str, &str, &str); 5] = [
    ("gateway", "USERS_URL", "users"),
    ("gateway", "ORDERS_URL", "orders"),
    ("gateway", "NOTIFICATIONS_URL", "notifications"),
    ("orders", "PAYMENTS_URL", "payments"),
    ("payments", "CARD_PROCESSOR_URL", "card-processor"),
];

fn compose() -> Yaml {
    Repo::default().compose().unwrap()
}

fn env<'a>(compose: &'a Yaml, service: &str, variable: &str) -> Option<&'a str> {
    compose.str_at(&format!("services.{service}.environment.{variable}"))
}

fn port_of(compose: &Yaml, service: &str) -> u16 {
    let listen = env(compose, service, "LISTEN_ADDR")
        .unwrap_or_else(|| panic!("{service} has no LISTEN_ADDR"));
    listen
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap()
}

#[test]
fn every_image_is_pinned_to_an_exact_version() {
    let compose = compose();
    for service in compose.keys_at("services") {
        let image = compose
            .str_at(&format!("services.{service}.image"))
            .unwrap_or_else(|| panic!("{service}: no image"));
        let (name, tag) = image
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("{service}: {image} has no tag"));
        assert_ne!(tag, "latest", "{service}: {image}");
        if name.starts_with("tracing-suite/") {
            assert!(
                compose.at(&format!("services.{service}.build")).is_some(),
                "{service} is built here"
            );
        } else {
            assert!(
                stack_check::is_exact_version(tag),
                "{service}: {image} is not pinned to an exact version"
            );
        }
    }
}

#[test]
fn the_stack_runs_the_versions_its_configuration_is_written_for() {
    let compose = compose();
    let image = |service: &str| {
        compose
            .str_at(&format!("services.{service}.image"))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        image("tempo").starts_with("grafana/tempo:3."),
        "tempo.yaml uses Tempo 3 keys"
    );
    assert!(image("otel-collector").starts_with("otel/opentelemetry-collector-contrib:0.15"));
    assert!(image("grafana").starts_with("grafana/grafana:13."));
    assert!(image("loki").starts_with("grafana/loki:3."));
    assert!(image("prometheus").starts_with("prom/prometheus:v3."));
}

#[test]
fn only_gateway_grafana_tempos_api_and_alertmanagers_ui_are_published_and_only_on_loopback() {
    let compose = compose();
    for service in compose.keys_at("services") {
        let ports = compose.strings_at(&format!("services.{service}.ports"));
        match service.as_str() {
            "gateway" => assert_eq!(ports, ["127.0.0.1:8080:8080"]),
            "grafana" => assert_eq!(ports, ["127.0.0.1:3000:3000"]),
            "tempo" => assert_eq!(ports, ["127.0.0.1:3200:3200"]),
            // Where a person sees an alert fire (issue 23).
            "alertmanager" => assert_eq!(ports, ["127.0.0.1:9093:9093"]),
            _ => assert!(ports.is_empty(), "{service} publishes {ports:?}"),
        }
    }
}

#[test]
fn every_dependency_exists_and_health_conditions_have_a_health_check() {
    let compose = compose();
    let services = compose.keys_at("services");
    for service in &services {
        for dependency in compose.keys_at(&format!("services.{service}.depends_on")) {
            assert!(
                services.contains(&dependency),
                "{service} depends on unknown {dependency}"
            );
            let condition = compose.str_at(&format!(
                "services.{service}.depends_on.{dependency}.condition"
            ));
            if condition == Some("service_healthy") {
                assert!(
                    compose
                        .at(&format!("services.{dependency}.healthcheck.test"))
                        .is_some(),
                    "{service} waits for {dependency} to be healthy, which has no health check"
                );
            }
        }
    }
}

#[test]
fn every_binary_is_built_from_its_own_dockerfile_target() {
    let compose = compose();
    let dockerfile = Repo::default().text("Dockerfile").unwrap();
    let binaries = RUST_SERVICES
        .iter()
        .map(|(service, _, _)| *service)
        .chain(CLIENTS);
    for binary in binaries {
        let target = compose.str_at(&format!("services.{binary}.build.target"));
        assert_eq!(target, Some(binary), "{binary} builds its own target");
        assert!(
            dockerfile.contains(&format!(" AS {binary}\n")),
            "Dockerfile has no stage {binary}"
        );
        assert!(
            dockerfile.contains(&format!("-p {binary}")),
            "the build stage builds {binary}"
        );
        assert!(
            dockerfile.contains(&format!("/out/{binary} /usr/local/bin/{binary}")),
            "{binary} is copied"
        );
    }
    for (service, port, _) in RUST_SERVICES {
        assert!(
            dockerfile.contains(&format!("EXPOSE {port}")),
            "{service} exposes {port}"
        );
    }
    assert!(
        dockerfile.contains("USER 10001"),
        "services run unprivileged"
    );
}

#[test]
fn services_listen_on_the_contract_ports_and_call_each_other_by_name() {
    let compose = compose();
    for (service, port, _) in RUST_SERVICES {
        assert_eq!(port_of(&compose, service), port, "{service}");
    }
    for (caller, variable, callee) in CALLS {
        let expected = format!("http://{callee}:{}", port_of(&compose, callee));
        assert_eq!(
            env(&compose, caller, variable),
            Some(expected.as_str()),
            "{caller} {variable}"
        );
        let depends = compose.str_at(&format!("services.{caller}.depends_on.{callee}.condition"));
        // The card processor plays a third party: waiting for it is fine too.
        assert_eq!(
            depends,
            Some("service_healthy"),
            "{caller} starts after {callee} is ready"
        );
    }
}

#[test]
fn the_load_generator_sends_gentle_traffic_to_the_gateway_once_it_is_ready() {
    let compose = compose();
    let args = compose.strings_at("services.loadgen.command");
    let flag = |name: &str| {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|at| args.get(at + 1))
            .map(String::as_str)
    };
    let gateway = format!("http://gateway:{}", port_of(&compose, "gateway"));
    assert_eq!(flag("--gateway"), Some(gateway.as_str()));
    let rate: f64 = flag("--rate").unwrap().parse().unwrap();
    assert!(
        rate > 0.0 && rate <= 5.0,
        "a demo stack gets a few checkouts a second, not {rate}"
    );
    for wanted in ["--forever", "--quiet"] {
        assert!(
            args.iter().any(|arg| arg == wanted),
            "loadgen runs {wanted}"
        );
    }
    assert_eq!(
        compose.str_at("services.loadgen.depends_on.gateway.condition"),
        Some("service_healthy")
    );
}

/// On a first start the image's entrypoint runs a temporary server that
/// listens on the Unix socket only (`listen_addresses=''`) while it creates
/// the cluster, then restarts it on TCP. A socket check passes on the
/// temporary server, before any service can connect: ask over TCP.
#[test]
fn postgres_is_healthy_only_once_it_answers_over_tcp() {
    let test = compose().strings_at("services.postgres.healthcheck.test");
    let host = test
        .iter()
        .position(|arg| arg == "-h")
        .and_then(|at| test.get(at + 1));
    assert!(test.iter().any(|arg| arg == "pg_isready"), "{test:?}");
    assert_eq!(host.map(String::as_str), Some("127.0.0.1"), "{test:?}");
}

#[test]
fn each_database_owner_gets_its_own_database() {
    let compose = compose();
    for (service, _, owns_database) in RUST_SERVICES {
        let url = env(&compose, service, "DATABASE_URL");
        if owns_database {
            assert_eq!(
                url,
                Some(format!("postgres://postgres:postgres@postgres:5432/{service}").as_str())
            );
            assert_eq!(
                compose.str_at(&format!("services.{service}.depends_on.postgres.condition")),
                Some("service_healthy")
            );
        } else {
            assert_eq!(url, None, "{service} owns no database");
        }
    }
    assert_eq!(
        compose.str_at("services.postgres.environment.POSTGRES_PASSWORD"),
        Some("postgres")
    );
}

#[test]
fn instrumented_services_export_to_the_collector_and_the_card_processor_does_not() {
    let compose = compose();
    let collector = Repo::default().yaml("otel-collector-config.yaml").unwrap();
    let http = collector
        .str_at("receivers.otlp.protocols.http.endpoint")
        .unwrap();
    let port = http.rsplit(':').next().unwrap();
    for (service, _, _) in RUST_SERVICES {
        let endpoint = env(&compose, service, "OTEL_EXPORTER_OTLP_ENDPOINT");
        if service == "card-processor" {
            assert_eq!(endpoint, None, "the third-party stand-in exports nothing");
        } else {
            assert_eq!(
                endpoint,
                Some(format!("http://otel-collector:{port}").as_str()),
                "{service}"
            );
        }
    }
}

#[test]
fn every_binary_honours_fault_baggage_in_the_demo_stack() {
    let compose = compose();
    for (service, _, _) in RUST_SERVICES {
        assert_eq!(
            env(&compose, service, "FAULTS_ENABLED"),
            Some("true"),
            "{service}: `checkout --fault` must work against the stack"
        );
    }
}

#[test]
fn orders_and_users_reach_nats_and_do_not_wait_for_it() {
    let compose = compose();
    assert!(
        compose
            .str_at("services.nats.image")
            .is_some_and(|image| image.starts_with("nats:2."))
    );
    let flags = compose.strings_at("services.nats.command");
    assert!(flags.iter().any(|flag| flag == "-js"), "JetStream on");
    for service in ["orders", "users"] {
        assert_eq!(
            env(&compose, service, "NATS_URL"),
            Some("nats://nats:4222"),
            "{service}"
        );
        assert_eq!(
            compose.str_at(&format!("services.{service}.depends_on.nats.condition")),
            Some("service_started"),
            "{service}: the contract keeps readiness independent of NATS"
        );
    }
    for service in ["gateway", "payments", "notifications", "card-processor"] {
        assert_eq!(
            env(&compose, service, "NATS_URL"),
            None,
            "{service} does not use NATS"
        );
    }
}

#[test]
fn every_mounted_file_exists() {
    let compose = compose();
    let repo = Repo::default();
    for service in compose.keys_at("services") {
        for volume in compose.strings_at(&format!("services.{service}.volumes")) {
            if let Some(source) = volume
                .split(':')
                .next()
                .filter(|source| source.starts_with("./"))
            {
                assert!(
                    repo.path(source).exists(),
                    "{service} mounts missing {source}"
                );
            }
        }
    }
}

/// The default stack, what `docker compose up` starts: the services in no
/// profile (the `sampling` profile's are counted in `tests/sampling.rs`).
#[test]
fn the_stack_fits_in_four_gigabytes() {
    let compose = compose();
    let mut total_mib = 0;
    for service in compose.keys_at("services") {
        if compose
            .at(&format!("services.{service}.profiles"))
            .is_some()
        {
            continue;
        }
        let limit = compose
            .str_at(&format!("services.{service}.mem_limit"))
            .unwrap_or_else(|| panic!("{service} has no mem_limit"));
        let mib: u64 = limit
            .strip_suffix('m')
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{limit}"));
        total_mib += mib;
    }
    assert!(total_mib <= 3 * 1024, "limits add up to {total_mib} MiB");
    let readme = Repo::default().text("README.md").unwrap();
    assert!(
        readme.contains("4 GB"),
        "the README states the memory the stack needs"
    );
}

/// Grafana's own default `[server] http_port`; the compose file keeps it.
const GRAFANA_HTTP_PORT: u16 = 3000;

/// Each of the `checkout` CLI's default URLs that does not reach the
/// service it names: published on 127.0.0.1 at the URL's port, mapped to
/// the port the service listens on inside the stack.
fn cli_defaults_not_reached(compose: &Yaml, tempo_http_port: u16) -> Vec<String> {
    use clap::Parser;
    let cli = checkout::cli::Cli::parse_from(["checkout"]);
    let targets = [
        (&cli.gateway, "gateway", port_of(compose, "gateway")),
        (&cli.grafana, "grafana", GRAFANA_HTTP_PORT),
        (&cli.tempo, "tempo", tempo_http_port),
    ];
    let mut problems = Vec::new();
    for (url, service, inside) in targets {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or_default();
        let wanted = format!("127.0.0.1:{port}:{inside}");
        let ports = compose.strings_at(&format!("services.{service}.ports"));
        if host != "localhost" || !ports.contains(&wanted) {
            problems.push(format!(
                "{url}: {service} publishes {ports:?}, not {wanted}"
            ));
        }
    }
    problems
}

fn tempo_http_port() -> u16 {
    let tempo = Repo::default().yaml("tempo.yaml").unwrap();
    let port = tempo.at("server.http_listen_port").and_then(Yaml::as_u64);
    port.and_then(|port| port.try_into().ok()).unwrap()
}

/// `cargo run -p checkout` after `docker compose up` asks the gateway for
/// the checkout, Tempo's API for the trace it prints, and builds Grafana
/// links: a default that nothing publishes is a feature that always falls
/// back to "unreachable".
#[test]
fn the_checkout_clis_defaults_reach_the_services_they_name() {
    let compose = compose();
    assert_eq!(
        env(&compose, "grafana", "GF_SERVER_HTTP_PORT"),
        None,
        "Grafana listens on its default port"
    );
    assert_eq!(
        cli_defaults_not_reached(&compose, tempo_http_port()),
        Vec::<String>::new()
    );
}

/// The check above catches the compose file it was written for, which
/// published only the gateway and Grafana.
#[test]
fn a_cli_default_that_nothing_publishes_is_caught() {
    let mut compose = compose();
    let tempo = compose
        .get_mut("services")
        .and_then(|services| services.get_mut("tempo"))
        .and_then(Yaml::as_mapping_mut)
        .unwrap();
    tempo.remove("ports");
    let problems = cli_defaults_not_reached(&compose, tempo_http_port());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("http://localhost:3200/"),
        "{problems:?}"
    );
}
