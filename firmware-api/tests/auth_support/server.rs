//! The real API server (`api::server::run_secure`) on loopback ports, with a
//! fake board behind the bus, the given `[auth]` and optional `[tls]`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use opendcre_api::ipmi_board::IpmiBoard;
use opendcre_api::server::{run_secure, Listener, ServerOptions};
use opendcre_api::AppState;
use opendcre_bus::BusConfig;
use opendcre_security::auth::{AuthConfig, Security};
use opendcre_security::tls::{TlsConfig, TlsSetup};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::board::FakeBoardOpener;

pub struct TestApi {
    pub plain: SocketAddr,
    pub tls: Option<SocketAddr>,
    pub security: Arc<Security>,
    pub tls_setup: Option<Arc<TlsSetup>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestApi {
    pub async fn start(auth: &AuthConfig, tls: Option<&TlsConfig>) -> TestApi {
        let security = Arc::new(Security::from_config(auth).expect("valid [auth]"));
        let tls_setup = tls.map(|c| Arc::new(TlsSetup::load(c).expect("valid [tls]")));
        Self::start_with(security, tls_setup).await
    }

    pub async fn start_with(security: Arc<Security>, tls_setup: Option<Arc<TlsSetup>>) -> TestApi {
        let (bus, _task) = opendcre_bus::spawn(FakeBoardOpener, BusConfig::default());
        let events = Arc::new(opendcre_eventlog::EventLog::in_memory(100));
        let state = Arc::new(AppState {
            redfish: opendcre_redfish::Node {
                bus: bus.clone(),
                ipmi: opendcre_ipmi::IpmiBridge::new(Vec::new()),
                r_sense: 1.0,
                rack: "test-rack".to_string(),
                rack_identity: Default::default(),
                board_identities: Default::default(),
                // Not kept: the auth tests write no asset tags.
                asset_tags: Arc::new(opendcre_redfish::AssetTags::open(None)),
                aggregates: Arc::new(opendcre_redfish::Aggregates::open(None)),
                report_definitions: Arc::new(opendcre_redfish::ReportDefinitions::open(None)),
                firmware_version: "test".to_string(),
                cache: None,
                uuid: None,
                // The auth tests do not read the manager's NetworkProtocol.
                protocols: Default::default(),
                reboot_request: None,
                network: Default::default(),
                // The auth tests do not read the manager's certificate.
                tls: None,
                // In memory: the auth tests keep no subscriptions.
                event_service: opendcre_redfish::EventService::new(
                    opendcre_redfish::EventSettings::default(),
                    events.clone(),
                )
                .expect("event service"),
                events: events.clone(),
                // Off, as in a node without `[update]`.
                update: Arc::new(opendcre_redfish::Updater::new(
                    opendcre_redfish::UpdateSettings {
                        enabled: false,
                        rauc: "/usr/bin/rauc".into(),
                        upload_dir: "/data/opendcre-update".into(),
                        max_bundle_bytes: 1 << 20,
                        install_timeout: Duration::from_secs(60),
                        ca_file: None,
                    },
                    events,
                    Arc::default(),
                )),
                tasks: Arc::default(),
            },
            bus,
            ipmi: IpmiBoard::empty(),
            r_sense: 1.0,
            request_timeout: Duration::from_secs(5),
            telemetry: None,
            metrics_permission: opendcre_security::auth::Permission::Read,
            metrics_anonymous: Vec::new(),
        });
        let plain_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain = plain_l.local_addr().unwrap();
        let mut listeners = vec![Listener::Plain(plain_l)];
        let mut tls_addr = None;
        if let Some(setup) = &tls_setup {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tls_addr = Some(l.local_addr().unwrap());
            listeners.push(Listener::Tls(l, setup.clone()));
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let opts = ServerOptions {
            access_log: false,
            shutdown_grace: Duration::from_secs(1),
            ..ServerOptions::default()
        };
        let sec = security.clone();
        let task = tokio::spawn(async move {
            run_secure(listeners, state, opts, Some(sec), async {
                let _ = stopped.await;
            })
            .await
        });
        TestApi {
            plain,
            tls: tls_addr,
            security,
            tls_setup,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn tls_addr(&self) -> SocketAddr {
        self.tls.expect("server started without TLS")
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}
