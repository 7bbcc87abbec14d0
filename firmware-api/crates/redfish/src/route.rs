//! Redfish URIs → resources, and what each resource allows: methods,
//! the permission it needs, whether it is public. The api crate's router
//! hands every path under `/redfish` here, so permission and `Allow` of a
//! Redfish resource are said in one place.

use http::Method;
use opendcre_proto::board_id::{fmt_board, fmt_device};
use opendcre_security::auth::{Permission, Role};

use crate::aggregates::AggregateAction;

/// A chassis of the rack: the rack itself, one board on its bus, or the
/// server of a configured BMC (its FRU's chassis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChassisId {
    Rack,
    Board(u32),
    /// The BMC's device id: the chassis of system `40000000-{device}`,
    /// with the same id.
    Server(u16),
}

impl ChassisId {
    /// The `Id` in URIs and payloads: `Rack`, or the board id as the v1.1
    /// API writes it (`00000001`).
    pub fn id(self) -> String {
        match self {
            ChassisId::Rack => RACK_ID.to_string(),
            ChassisId::Board(b) => fmt_board(b),
            ChassisId::Server(d) => SystemId::bmc(d).id(),
        }
    }

    pub fn uri(self) -> String {
        format!("{V1}/Chassis/{}", self.id())
    }
}

/// A computer system: a power device on a bus board (board id, device id),
/// or a server behind a BMC (board `40000000`, the BMC's device id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemId {
    pub board: u32,
    pub device: u16,
}

impl SystemId {
    /// The server of the BMC with `device` id (board `40000000`).
    pub fn bmc(device: u16) -> SystemId {
        SystemId {
            board: opendcre_proto::board_id::IPMI,
            device,
        }
    }

    /// `00000001-16ff`: the v1.1 API's board and device ids.
    pub fn id(self) -> String {
        format!("{}-{}", fmt_board(self.board), fmt_device(self.device))
    }

    pub fn uri(self) -> String {
        format!("{V1}/Systems/{}", self.id())
    }

    /// A server behind a configured BMC: the v1.1 API's IPMI board
    /// (`40000000`) and the BMC's device id.
    pub fn is_bmc(self) -> bool {
        self.board == opendcre_proto::board_id::IPMI
    }

    pub fn reset_uri(self) -> String {
        format!("{}/Actions/ComputerSystem.Reset", self.uri())
    }
}

/// A member of the firmware inventory: a RAUC slot of the node
/// (`rootfs.0`), a bus board's firmware (the board's chassis id,
/// `00000001`) or a BMC's (its server's id, `40000000-0001`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirmwareId {
    Slot(String),
    Board(u32),
    Bmc(u16),
}

impl FirmwareId {
    /// RAUC names every slot `{class}.{index}`, so a slot name has a dot
    /// and a chassis id has none: the two never name the same member.
    fn parse(id: &str) -> Option<FirmwareId> {
        if id.contains('.') {
            return crate::rauc::valid_slot_name(id).then(|| FirmwareId::Slot(id.to_string()));
        }
        match parse_chassis(id)? {
            ChassisId::Rack => None,
            ChassisId::Board(b) => Some(FirmwareId::Board(b)),
            ChassisId::Server(d) => Some(FirmwareId::Bmc(d)),
        }
    }

    pub fn id(&self) -> String {
        match self {
            FirmwareId::Slot(name) => name.clone(),
            FirmwareId::Board(b) => ChassisId::Board(*b).id(),
            FirmwareId::Bmc(d) => ChassisId::Server(*d).id(),
        }
    }

    pub fn uri(&self) -> String {
        format!("{V1}/UpdateService/FirmwareInventory/{}", self.id())
    }
}

/// Whose log services: the manager's (the node's event log) or a
/// computer system's (a bus power device's view of it, a BMC's SEL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOwner {
    Manager,
    System(SystemId),
}

pub(crate) const V1: &str = "/redfish/v1";
pub(crate) const RACK_ID: &str = "Rack";
pub(crate) const MANAGER_ID: &str = "RackManager";

/// One resource of the service tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `/redfish`: the protocol versions this service speaks.
    Version,
    ServiceRoot,
    /// `/redfish/v1/$metadata`: the CSDL document.
    Metadata,
    /// `/redfish/v1/odata`: the OData service document.
    OData,
    ChassisCollection,
    Chassis(ChassisId),
    /// `/redfish/v1/Chassis/{board}/Sensors`.
    SensorCollection(u32),
    /// `…/Chassis/40000000-{device}/Sensors`: a BMC's SDR sensors.
    ServerSensorCollection(u16),
    /// `…/Chassis/40000000-{device}/Sensors/{number}-{what}`.
    ServerSensor(u16, String),
    /// `…/Chassis/{id}/Thermal` (deprecated by DMTF, read by OpenRMC
    /// clients and Ironic).
    Thermal(ChassisId),
    /// `…/Chassis/{id}/Power`.
    ChassisPower(ChassisId),
    /// `…/Chassis/{id}/ThermalSubsystem`.
    ThermalSubsystem(ChassisId),
    /// `…/ThermalSubsystem/Fans`.
    FanCollection(ChassisId),
    /// `…/ThermalSubsystem/Fans/{id}`: the fan of the speed sensor with
    /// this id.
    Fan(ChassisId, String),
    /// `…/ThermalSubsystem/ThermalMetrics`.
    ThermalMetrics(ChassisId),
    /// `…/Chassis/{id}/EnvironmentMetrics`.
    EnvironmentMetrics(ChassisId),
    /// `/redfish/v1/Chassis/{board}/Sensors/{device}-{what}`.
    Sensor(u32, String),
    SystemCollection,
    System(SystemId),
    /// `POST …/Actions/ComputerSystem.Reset`.
    SystemReset(SystemId),
    /// `POST /redfish/v1/Chassis/{id}/Actions/Chassis.Reset`: the
    /// chassis' systems as one group.
    ChassisReset(ChassisId),
    ManagerCollection,
    Manager,
    /// `…/Managers/RackManager/NetworkProtocol`.
    NetworkProtocol,
    /// `…/Managers/RackManager/EthernetInterfaces`.
    EthernetInterfaceCollection,
    /// `…/EthernetInterfaces/{name}`: a network interface of the node.
    EthernetInterface(String),
    SessionService,
    /// `…/Sessions`: GET lists, POST logs in (no credentials needed).
    SessionCollection,
    /// `…/Sessions/{id}`: GET, DELETE (log out).
    Session(String),
    AccountService,
    AccountCollection,
    /// `…/Accounts/{name}`: a local account (`[auth.users]`).
    Account(String),
    RoleCollection,
    Role(RedfishRole),
    /// `…/LogServices` of the manager or a system.
    LogServiceCollection(LogOwner),
    /// `…/LogServices/EventLog` (or `SEL` on a BMC's server).
    LogService(LogOwner),
    /// `…/LogServices/{id}/Entries`.
    LogEntryCollection(LogOwner),
    /// `…/Entries/{id}`: the decimal entry id (the SEL's record id).
    LogEntry(LogOwner, u64),
    /// `POST …/Actions/LogService.ClearLog`.
    ClearLog(LogOwner),
    /// `/redfish/v1/Registries`.
    RegistryCollection,
    /// `/redfish/v1/Registries/{id}`: a message registry the service uses.
    Registry(String),
    /// `/redfish/v1/Registries/OpenDCRE/OpenDCRE.1.2.0`: the node's own
    /// message registry document.
    OwnRegistry,
    /// `/redfish/v1/UpdateService`.
    UpdateService,
    /// `…/UpdateService/upload`: the `HttpPushUri` (POST of a bundle).
    UpdateUpload,
    /// `…/UpdateService/update-multipart`: the `MultipartHttpPushUri`
    /// (POST of `multipart/form-data`: `UpdateParameters`, `UpdateFile`).
    UpdateMultipart,
    /// `POST …/UpdateService/Actions/UpdateService.SimpleUpdate`: fetch a
    /// bundle over HTTP(S) and install it.
    SimpleUpdate,
    /// `…/UpdateService/FirmwareInventory`: the node's RAUC slots, the
    /// bus boards' firmware and the BMCs'.
    FirmwareInventoryCollection,
    /// `…/FirmwareInventory/{id}`: one member.
    FirmwareInventory(FirmwareId),
    TaskService,
    TaskCollection,
    /// `/redfish/v1/AggregationService`.
    AggregationService,
    /// `POST …/AggregationService/Actions/AggregationService.Reset`: a
    /// group of systems reset in batches, as a task.
    GroupReset,
    /// `…/AggregationService/Aggregates`: GET lists, POST creates.
    AggregateCollection,
    /// `…/Aggregates/{id}`: GET, DELETE.
    Aggregate(u64),
    /// `POST …/Aggregates/{id}/Actions/Aggregate.{Reset,AddElements,RemoveElements}`.
    AggregateAction(u64, AggregateAction),
    /// `…/TaskService/Tasks/{id}`: an install or a group reset, by
    /// canonical decimal id; DELETE cancels or forgets it.
    Task(u64),
    /// `…/Tasks/{id}/Monitor`: the task monitor a `202`'s `Location`
    /// names (`202` while the task runs); DELETE as the task's.
    TaskMonitor(u64),
    /// `/redfish/v1/EventService`.
    EventService,
    /// `…/EventService/Subscriptions`: GET lists, POST subscribes.
    SubscriptionCollection,
    /// `…/Subscriptions/{id}`: GET, DELETE.
    Subscription(u64),
    /// `…/EventService/SSE`: the `ServerSentEventUri` (the api crate
    /// streams it).
    EventSse,
    /// `POST …/Actions/EventService.SubmitTestEvent`.
    SubmitTestEvent,
    /// `POST …/Managers/RackManager/Actions/Manager.Reset`: restart the node.
    ManagerReset,
    /// `…/NetworkProtocol/HTTPS/Certificates`.
    HttpsCertificateCollection,
    /// `…/Managers/RackManager/Certificates`.
    ManagerCertificateCollection,
    /// `…/HTTPS/Certificates/{id}`: the certificate the listeners serve.
    Certificate(String),
    /// `/redfish/v1/CertificateService`.
    CertificateService,
    /// `…/CertificateService/CertificateLocations`.
    CertificateLocations,
    /// `POST …/Actions/CertificateService.ReplaceCertificate`.
    ReplaceCertificate,
    /// `POST …/Actions/CertificateService.GenerateCSR`.
    GenerateCsr,
    /// `/redfish/v1/TelemetryService`.
    TelemetryService,
    /// `…/MetricReportDefinitions`: GET lists, POST makes a periodic one.
    MetricReportDefinitionCollection,
    /// `…/MetricReportDefinitions/{id}`: `RackSensors` (on request) or an
    /// operator's periodic definition.
    MetricReportDefinition(String),
    MetricReportCollection,
    /// `…/MetricReports/{id}`: `RackSensors`, or a periodic definition's
    /// last report.
    MetricReport(String),
    /// Any other path under `/redfish`: a 404 in Redfish's error format.
    Missing,
}

pub(crate) const READ_ONLY: &str = "GET, HEAD";

/// The standard roles of DSP8011. The node's `operator` is `Operator`,
/// `reader` is `ReadOnly`; no node role is `Administrator` (nothing here
/// configures users or the manager through Redfish yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedfishRole {
    Administrator,
    Operator,
    ReadOnly,
}

impl RedfishRole {
    pub const ALL: [RedfishRole; 3] = [
        RedfishRole::Administrator,
        RedfishRole::Operator,
        RedfishRole::ReadOnly,
    ];

    pub fn id(self) -> &'static str {
        match self {
            RedfishRole::Administrator => "Administrator",
            RedfishRole::Operator => "Operator",
            RedfishRole::ReadOnly => "ReadOnly",
        }
    }

    pub fn of(role: Role) -> RedfishRole {
        match role {
            Role::Admin => RedfishRole::Administrator,
            Role::Operator => RedfishRole::Operator,
            Role::Reader => RedfishRole::ReadOnly,
        }
    }

    /// The node role an account given this `RoleId` gets.
    pub fn node_role(self) -> Role {
        match self {
            RedfishRole::Administrator => Role::Admin,
            RedfishRole::Operator => Role::Operator,
            RedfishRole::ReadOnly => Role::Reader,
        }
    }

    pub fn uri(self) -> String {
        format!("{V1}/AccountService/Roles/{}", self.id())
    }

    pub(crate) fn parse(id: &str) -> Option<RedfishRole> {
        RedfishRole::ALL.into_iter().find(|r| r.id() == id)
    }
}

impl Resource {
    /// What a caller must hold for a GET: changing state needs `Operate`.
    pub fn permission(&self) -> Permission {
        self.permission_for(&Method::GET)
    }

    /// What a caller must hold for `method`: a reset and a `PATCH` change
    /// state and need `Operate`.
    pub fn permission_for(&self, method: &Method) -> Permission {
        match self {
            Resource::SystemReset(_)
            | Resource::ChassisReset(_)
            | Resource::ClearLog(_)
            | Resource::UpdateUpload
            | Resource::UpdateMultipart
            | Resource::SimpleUpdate
            | Resource::SubmitTestEvent
            | Resource::GroupReset
            | Resource::AggregateAction(..) => Permission::Operate,
            // The node itself (restarting it, the certificate it answers
            // with) is an administrator's: DSP8011 gives a manager's
            // actions and its certificates to `ConfigureManager`, which
            // the Operator role (Roles/Operator) does not hold.
            Resource::ManagerReset | Resource::ReplaceCertificate | Resource::GenerateCsr => {
                Permission::Administer
            }
            // Accounts are an administrator's (DSP8011 `ConfigureUsers`); a
            // PATCH may also be an account changing its own password
            // (`ConfigureSelf`), which the handler tells apart.
            Resource::AccountCollection if method == Method::POST => Permission::Administer,
            // Back to the configured certificate: as replacing it.
            Resource::Certificate(_) if method == Method::DELETE => Permission::Administer,
            // How long a login lasts is the manager's setting
            // (DSP8011: `SessionService` PATCH is `ConfigureManager`).
            Resource::SessionService if method == Method::PATCH => Permission::Administer,
            // So is the node's label (DSP8011: `Manager` PATCH is
            // `ConfigureManager`).
            Resource::Manager if method == Method::PATCH => Permission::Administer,
            // And the node's network settings (its interfaces are the
            // manager's).
            Resource::EthernetInterface(_) if method == Method::PATCH => Permission::Administer,
            // So is the account lockout policy (DSP8011: `AccountService`
            // PATCH is `ConfigureUsers`, an administrator's).
            Resource::AccountService if method == Method::PATCH => Permission::Administer,
            Resource::Account(_) if method == Method::DELETE => Permission::Administer,
            // Which systems switch together is an operator's choice.
            Resource::AggregateCollection if method == Method::POST => Permission::Operate,
            Resource::Aggregate(_) if method == Method::DELETE => Permission::Operate,
            // Stopping a group reset or a download is an operator's call.
            Resource::Task(_) | Resource::TaskMonitor(_) if method == Method::DELETE => {
                Permission::Operate
            }
            // Who receives the node's events is an operator's choice, and
            // so are the periodic reports sent as events.
            Resource::SubscriptionCollection | Resource::MetricReportDefinitionCollection
                if method == Method::POST =>
            {
                Permission::Operate
            }
            Resource::MetricReportDefinition(_)
                if method == Method::DELETE || method == Method::PATCH =>
            {
                Permission::Operate
            }
            Resource::Subscription(_) if method == Method::DELETE || method == Method::PATCH => {
                Permission::Operate
            }
            Resource::System(_) | Resource::Chassis(_) if method == Method::PATCH => {
                Permission::Operate
            }
            _ => Permission::Read,
        }
    }

    /// What an account that must change its password first may still do
    /// (DSP0266 "Password change required handling"): read its own
    /// account and `PATCH` its `Password` there. Everything else is a 403
    /// with `PasswordChangeRequired` (the session login stays open: it is
    /// public).
    pub fn allowed_before_password_change(&self, method: &Method, user: &str) -> bool {
        matches!(self, Resource::Account(name) if name == user)
            && (method == Method::GET || method == Method::HEAD || method == Method::PATCH)
    }

    /// Readable without credentials (DSP0266 "Authentication requirements":
    /// the version object, the service root, `$metadata` and the OData
    /// service document). Everything else goes through authentication.
    pub fn is_public(&self) -> bool {
        matches!(
            self,
            Resource::Version | Resource::ServiceRoot | Resource::Metadata | Resource::OData
        )
    }

    /// [`Resource::is_public`] for a request with `method`: also the login
    /// (`POST …/SessionService/Sessions`, DSP0266 "Session login"), which
    /// checks the credentials in its body itself, through the same limiter.
    pub fn is_public_for(&self, method: &Method) -> bool {
        self.is_public() || (*self == Resource::SessionCollection && method == Method::POST)
    }

    /// The `Allow` header: every resource sends it, error answers included.
    pub fn allow_header(&self) -> &'static str {
        match self {
            Resource::SystemReset(_)
            | Resource::ChassisReset(_)
            | Resource::ClearLog(_)
            | Resource::UpdateUpload
            | Resource::UpdateMultipart
            | Resource::SimpleUpdate
            | Resource::SubmitTestEvent
            | Resource::ManagerReset
            | Resource::GroupReset
            | Resource::AggregateAction(..)
            | Resource::ReplaceCertificate
            | Resource::GenerateCsr => "POST",
            Resource::AggregateCollection => "GET, HEAD, POST",
            Resource::Aggregate(_) => "GET, HEAD, DELETE",
            Resource::Task(_) | Resource::TaskMonitor(_) => "GET, HEAD, DELETE",
            Resource::SubscriptionCollection => "GET, HEAD, POST",
            Resource::MetricReportDefinitionCollection => "GET, HEAD, POST",
            // `RackSensors` is the service's own: read only.
            Resource::MetricReportDefinition(id) if id == crate::reports::RACK_REPORT => READ_ONLY,
            // `MetricReportDefinitionEnabled` of an operator's definition.
            Resource::MetricReportDefinition(_) => "GET, HEAD, PATCH, DELETE",
            // `Context` and `DeliveryRetryPolicy` of a push subscription.
            Resource::Subscription(_) => "GET, HEAD, PATCH, DELETE",
            Resource::EventSse => "GET",
            // A bus power device's `AssetTag` is writable (`WI`); a BMC's
            // server has its boot override (`Boot`).
            Resource::System(_) => "GET, HEAD, PATCH",
            // `AssetTag` (kept by the node); a board's
            // `LocationIndicatorActive`, when it has an LED device; a BMC
            // server's identify light.
            Resource::Chassis(_) => "GET, HEAD, PATCH",
            // `SessionTimeout`; `GET, HEAD` when the node does not keep
            // it (the handler narrows it).
            Resource::SessionService => "GET, HEAD, PATCH",
            // `ServiceIdentification`; `GET, HEAD` when the node keeps no
            // asset tags (the handler narrows it).
            Resource::Manager => "GET, HEAD, PATCH",
            // The node's network settings; `GET, HEAD` on other
            // interfaces and without a request file (the handler narrows
            // it).
            Resource::EthernetInterface(_) => "GET, HEAD, PATCH",
            // The lockout policy; `GET, HEAD` when the node does not keep
            // it (the handler narrows it).
            Resource::AccountService => "GET, HEAD, PATCH",
            Resource::SessionCollection => "GET, HEAD, POST",
            Resource::Session(_) => "GET, HEAD, DELETE",
            // At most: without an accounts file, and for an account of the
            // configuration, `GET, HEAD` (the handler narrows it).
            Resource::AccountCollection => "GET, HEAD, POST",
            // At most: `DELETE` only while a replaced certificate is served.
            Resource::Certificate(_) => "GET, HEAD, DELETE",
            Resource::Account(_) => "GET, HEAD, PATCH, DELETE",
            _ => READ_ONLY,
        }
    }

    pub fn allows(&self, method: &Method) -> bool {
        match self {
            // Any method gets the 404 of a missing resource, not a 405.
            Resource::Missing => true,
            _ => self
                .allow_header()
                .split(", ")
                .any(|m| m == method.as_str()),
        }
    }
}

/// Routes the normalised segments of a path that starts with `redfish`.
/// One trailing slash is ignored (DSP0266: `/redfish/v1/` and
/// `/redfish/v1` are the same resource, and so for every URI here).
pub fn route(segments: &[String]) -> Option<Resource> {
    let mut s: Vec<&str> = segments.iter().map(String::as_str).collect();
    if s.first() != Some(&"redfish") {
        return None;
    }
    if s.len() > 1 && s.last() == Some(&"") {
        s.pop();
    }
    Some(match s[1..] {
        [] => Resource::Version,
        ["v1"] => Resource::ServiceRoot,
        ["v1", "$metadata"] => Resource::Metadata,
        ["v1", "odata"] => Resource::OData,
        ["v1", "Chassis"] => Resource::ChassisCollection,
        ["v1", "Chassis", id] => match parse_chassis(id) {
            Some(c) => Resource::Chassis(c),
            None => Resource::Missing,
        },
        ["v1", "Chassis", id, "Thermal"] => match parse_chassis(id) {
            Some(c) => Resource::Thermal(c),
            None => Resource::Missing,
        },
        ["v1", "Chassis", id, "Power"] => match parse_chassis(id) {
            Some(c) => Resource::ChassisPower(c),
            None => Resource::Missing,
        },
        ["v1", "Chassis", id, "ThermalSubsystem"] => {
            parse_chassis(id).map_or(Resource::Missing, Resource::ThermalSubsystem)
        }
        ["v1", "Chassis", id, "ThermalSubsystem", "Fans"] => {
            parse_chassis(id).map_or(Resource::Missing, Resource::FanCollection)
        }
        ["v1", "Chassis", id, "ThermalSubsystem", "Fans", fan] => match parse_chassis(id) {
            Some(c) if fan.len() <= 64 => Resource::Fan(c, fan.to_string()),
            _ => Resource::Missing,
        },
        ["v1", "Chassis", id, "ThermalSubsystem", "ThermalMetrics"] => {
            parse_chassis(id).map_or(Resource::Missing, Resource::ThermalMetrics)
        }
        ["v1", "Chassis", id, "Actions", "Chassis.Reset"] => {
            parse_chassis(id).map_or(Resource::Missing, Resource::ChassisReset)
        }
        ["v1", "Chassis", id, "EnvironmentMetrics"] => {
            parse_chassis(id).map_or(Resource::Missing, Resource::EnvironmentMetrics)
        }
        ["v1", "Chassis", id, "Sensors"] => match parse_chassis(id) {
            Some(ChassisId::Board(b)) => Resource::SensorCollection(b),
            Some(ChassisId::Server(d)) => Resource::ServerSensorCollection(d),
            _ => Resource::Missing,
        },
        ["v1", "Chassis", id, "Sensors", sensor] => match parse_chassis(id) {
            Some(ChassisId::Board(b)) if parse_sensor_device(sensor).is_some() => {
                Resource::Sensor(b, sensor.to_string())
            }
            Some(ChassisId::Server(d))
                if crate::environment::parse_sdr_sensor_id(sensor).is_some() =>
            {
                Resource::ServerSensor(d, sensor.to_string())
            }
            _ => Resource::Missing,
        },
        ["v1", "Systems"] => Resource::SystemCollection,
        ["v1", "Systems", id] => system(id, Resource::System),
        ["v1", "Systems", id, "Actions", "ComputerSystem.Reset"] => {
            system(id, Resource::SystemReset)
        }
        ["v1", "Systems", id, "LogServices", ref rest @ ..] => match parse_system(id) {
            Some(s) => log_route(LogOwner::System(s), rest),
            None => Resource::Missing,
        },
        ["v1", "Managers", MANAGER_ID, "LogServices", ref rest @ ..] => {
            log_route(LogOwner::Manager, rest)
        }
        ["v1", "Managers"] => Resource::ManagerCollection,
        ["v1", "Managers", MANAGER_ID] => Resource::Manager,
        ["v1", "Managers", MANAGER_ID, "NetworkProtocol"] => Resource::NetworkProtocol,
        ["v1", "Managers", MANAGER_ID, "Actions", "Manager.Reset"] => Resource::ManagerReset,
        ["v1", "Managers", MANAGER_ID, "Certificates"] => Resource::ManagerCertificateCollection,
        ["v1", "Managers", MANAGER_ID, "NetworkProtocol", "HTTPS", "Certificates"] => {
            Resource::HttpsCertificateCollection
        }
        ["v1", "Managers", MANAGER_ID, "NetworkProtocol", "HTTPS", "Certificates", id] => {
            Resource::Certificate(id.to_string())
        }
        ["v1", "CertificateService"] => Resource::CertificateService,
        ["v1", "CertificateService", "CertificateLocations"] => Resource::CertificateLocations,
        ["v1", "CertificateService", "Actions", "CertificateService.ReplaceCertificate"] => {
            Resource::ReplaceCertificate
        }
        ["v1", "CertificateService", "Actions", "CertificateService.GenerateCSR"] => {
            Resource::GenerateCsr
        }
        ["v1", "Managers", MANAGER_ID, "EthernetInterfaces"] => {
            Resource::EthernetInterfaceCollection
        }
        ["v1", "Managers", MANAGER_ID, "EthernetInterfaces", name] => {
            Resource::EthernetInterface(name.to_string())
        }
        ["v1", "SessionService"] => Resource::SessionService,
        // DSP0266: a POST to a collection's `Members` is a POST to the
        // collection (the login).
        ["v1", "SessionService", "Sessions"] | ["v1", "SessionService", "Sessions", "Members"] => {
            Resource::SessionCollection
        }
        ["v1", "SessionService", "Sessions", id] if canonical_hex(id, 16).is_some() => {
            Resource::Session(id.to_string())
        }
        ["v1", "AccountService"] => Resource::AccountService,
        ["v1", "Registries"] => Resource::RegistryCollection,
        ["v1", "Registries", id] => Resource::Registry(id.to_string()),
        ["v1", "Registries", opendcre_eventlog::REGISTRY, doc]
            if doc == crate::registries::own_registry_id() =>
        {
            Resource::OwnRegistry
        }
        ["v1", "AccountService", "Accounts"] => Resource::AccountCollection,
        ["v1", "AccountService", "Accounts", name] if account_name(name) => {
            Resource::Account(name.to_string())
        }
        ["v1", "UpdateService"] => Resource::UpdateService,
        ["v1", "UpdateService", "upload"] => Resource::UpdateUpload,
        ["v1", "UpdateService", "update-multipart"] => Resource::UpdateMultipart,
        ["v1", "UpdateService", "Actions", "UpdateService.SimpleUpdate"] => Resource::SimpleUpdate,
        ["v1", "UpdateService", "FirmwareInventory"] => Resource::FirmwareInventoryCollection,
        ["v1", "UpdateService", "FirmwareInventory", id] => {
            FirmwareId::parse(id).map_or(Resource::Missing, Resource::FirmwareInventory)
        }
        ["v1", "TaskService"] => Resource::TaskService,
        ["v1", "AggregationService"] => Resource::AggregationService,
        ["v1", "AggregationService", "Actions", "AggregationService.Reset"] => Resource::GroupReset,
        ["v1", "AggregationService", "Aggregates"]
        | ["v1", "AggregationService", "Aggregates", "Members"] => Resource::AggregateCollection,
        ["v1", "AggregationService", "Aggregates", id] => {
            canonical_decimal(id).map_or(Resource::Missing, Resource::Aggregate)
        }
        ["v1", "AggregationService", "Aggregates", id, "Actions", action] => {
            match (canonical_decimal(id), AggregateAction::parse(action)) {
                (Some(id), Some(a)) => Resource::AggregateAction(id, a),
                _ => Resource::Missing,
            }
        }
        ["v1", "TaskService", "Tasks"] => Resource::TaskCollection,
        ["v1", "TaskService", "Tasks", id] => {
            canonical_decimal(id).map_or(Resource::Missing, Resource::Task)
        }
        ["v1", "TaskService", "Tasks", id, "Monitor"] => {
            canonical_decimal(id).map_or(Resource::Missing, Resource::TaskMonitor)
        }
        ["v1", "TelemetryService"] => Resource::TelemetryService,
        ["v1", "TelemetryService", "MetricReportDefinitions"] => {
            Resource::MetricReportDefinitionCollection
        }
        ["v1", "TelemetryService", "MetricReportDefinitions", id] => {
            Resource::MetricReportDefinition(id.to_string())
        }
        ["v1", "TelemetryService", "MetricReports"] => Resource::MetricReportCollection,
        ["v1", "TelemetryService", "MetricReports", id] => Resource::MetricReport(id.to_string()),
        ["v1", "EventService"] => Resource::EventService,
        ["v1", "EventService", "Subscriptions"]
        | ["v1", "EventService", "Subscriptions", "Members"] => Resource::SubscriptionCollection,
        ["v1", "EventService", "Subscriptions", id] => {
            canonical_decimal(id).map_or(Resource::Missing, Resource::Subscription)
        }
        ["v1", "EventService", "SSE"] => Resource::EventSse,
        ["v1", "EventService", "Actions", "EventService.SubmitTestEvent"] => {
            Resource::SubmitTestEvent
        }
        ["v1", "AccountService", "Roles"] => Resource::RoleCollection,
        ["v1", "AccountService", "Roles", id] => {
            RedfishRole::parse(id).map_or(Resource::Missing, Resource::Role)
        }
        _ => Resource::Missing,
    })
}

/// What follows `…/LogServices`: the owner's one service, its entries, an
/// entry by canonical decimal id, the `ClearLog` action.
fn log_route(owner: LogOwner, rest: &[&str]) -> Resource {
    let service = owner.service_id();
    match rest {
        [] => Resource::LogServiceCollection(owner),
        [id] if *id == service => Resource::LogService(owner),
        [id, "Entries"] if *id == service => Resource::LogEntryCollection(owner),
        [id, "Entries", entry] if *id == service => match canonical_decimal(entry) {
            Some(n) => Resource::LogEntry(owner, n),
            None => Resource::Missing,
        },
        [id, "Actions", "LogService.ClearLog"] if *id == service => Resource::ClearLog(owner),
        _ => Resource::Missing,
    }
}

/// `0`, `17`; not `017`, `+1` or beyond `u64`.
fn canonical_decimal(text: &str) -> Option<u64> {
    let ok = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    ok.then(|| text.parse().ok()).flatten()
}

fn system(id: &str, make: fn(SystemId) -> Resource) -> Resource {
    parse_system(id).map_or(Resource::Missing, make)
}

/// Only the canonical spelling of an id names a resource: one resource,
/// one URI.
pub(crate) fn parse_chassis(id: &str) -> Option<ChassisId> {
    if id == RACK_ID {
        return Some(ChassisId::Rack);
    }
    if id.contains('-') {
        return parse_system(id)
            .filter(|s| s.is_bmc())
            .map(|s| ChassisId::Server(s.device));
    }
    let board = canonical_hex(id, 8)?;
    Some(ChassisId::Board(u32::try_from(board).ok()?))
}

fn parse_system(id: &str) -> Option<SystemId> {
    let (b, d) = id.split_once('-')?;
    Some(SystemId {
        board: u32::try_from(canonical_hex(b, 8)?).ok()?,
        device: u16::try_from(canonical_hex(d, 4)?).ok()?,
    })
}

/// The device id a sensor id starts with (`01ff` of `01ff-Temperature`).
pub(crate) fn parse_sensor_device(id: &str) -> Option<u16> {
    let (d, what) = id.split_once('-')?;
    if what.is_empty() {
        return None;
    }
    u16::try_from(canonical_hex(d, 4)?).ok()
}

/// What `[auth.users]` accepts as a name (the security crate checks it
/// at load); anything else cannot be an account.
fn account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

fn canonical_hex(text: &str, width: usize) -> Option<u64> {
    let ok = text.len() == width
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then(|| u64::from_str_radix(text, 16).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str) -> Option<Resource> {
        let segs: Vec<String> = path[1..].split('/').map(str::to_string).collect();
        route(&segs)
    }

    #[test]
    fn tree_and_trailing_slashes() {
        assert_eq!(r("/redfish"), Some(Resource::Version));
        assert_eq!(r("/redfish/"), Some(Resource::Version));
        assert_eq!(r("/redfish/v1"), Some(Resource::ServiceRoot));
        assert_eq!(r("/redfish/v1/"), Some(Resource::ServiceRoot));
        assert_eq!(r("/redfish/v1/$metadata"), Some(Resource::Metadata));
        assert_eq!(r("/redfish/v1/odata"), Some(Resource::OData));
        assert_eq!(
            r("/redfish/v1/Chassis/Rack/"),
            Some(Resource::Chassis(ChassisId::Rack))
        );
        assert_eq!(
            r("/redfish/v1/Chassis/0000000a"),
            Some(Resource::Chassis(ChassisId::Board(10)))
        );
        let sys = SystemId {
            board: 1,
            device: 0x16ff,
        };
        assert_eq!(
            r("/redfish/v1/Systems/00000001-16ff"),
            Some(Resource::System(sys))
        );
        assert_eq!(r(&sys.reset_uri()), Some(Resource::SystemReset(sys)));
        assert_eq!(
            r("/redfish/v1/Managers/RackManager"),
            Some(Resource::Manager)
        );
        assert_eq!(r("/opendcre/1.1/scan"), None);
    }

    #[test]
    fn firmware_inventory_members() {
        let f = "/redfish/v1/UpdateService/FirmwareInventory";
        for (id, want) in [
            ("rootfs.0", Some(FirmwareId::Slot("rootfs.0".into()))),
            ("00000001", Some(FirmwareId::Board(1))),
            ("40000000-0001", Some(FirmwareId::Bmc(1))),
            // A board's power device is no firmware, the rack has none,
            // and only the canonical spelling names a member.
            ("00000001-16ff", None),
            ("Rack", None),
            ("1", None),
            ("0000000A", None),
            ("rootfs.0/x", None),
        ] {
            let got = r(&format!("{f}/{id}"));
            match want {
                Some(w) => {
                    assert_eq!(w.uri(), format!("{f}/{id}"));
                    assert_eq!(got, Some(Resource::FirmwareInventory(w)), "{id}");
                }
                None => assert!(
                    matches!(got, Some(Resource::Missing) | None),
                    "{id}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn log_services() {
        let bus = LogOwner::System(SystemId {
            board: 1,
            device: 0x16ff,
        });
        let bmc = LogOwner::System(SystemId {
            board: 0x4000_0000,
            device: 1,
        });
        let m = "/redfish/v1/Managers/RackManager/LogServices";
        assert_eq!(
            r(m),
            Some(Resource::LogServiceCollection(LogOwner::Manager))
        );
        assert_eq!(
            r(&format!("{m}/EventLog/")),
            Some(Resource::LogService(LogOwner::Manager))
        );
        assert_eq!(
            r(&format!("{m}/EventLog/Entries/12")),
            Some(Resource::LogEntry(LogOwner::Manager, 12))
        );
        let s = "/redfish/v1/Systems/00000001-16ff/LogServices";
        assert_eq!(
            r(&format!("{s}/EventLog/Entries")),
            Some(Resource::LogEntryCollection(bus))
        );
        assert_eq!(
            r(&format!("{s}/EventLog/Actions/LogService.ClearLog")),
            Some(Resource::ClearLog(bus))
        );
        let b = "/redfish/v1/Systems/40000000-0001/LogServices";
        assert_eq!(r(&format!("{b}/SEL")), Some(Resource::LogService(bmc)));
        for p in [
            format!("{b}/EventLog"),
            format!("{s}/SEL"),
            format!("{m}/EventLog/Entries/012"),
            format!("{m}/EventLog/Entries/-1"),
            format!("{m}/EventLog/Entries/99999999999999999999999"),
            format!("{m}/Log"),
        ] {
            assert_eq!(r(&p), Some(Resource::Missing), "{p}");
        }
        assert_eq!(Resource::ClearLog(bus).permission(), Permission::Operate);
        assert!(Resource::ClearLog(bus).allows(&Method::POST));
        assert!(!Resource::ClearLog(bus).allows(&Method::GET));
        assert_eq!(Resource::LogService(bus).permission(), Permission::Read);
        assert!(!Resource::LogService(bus).allows(&Method::POST));
    }

    #[test]
    fn non_canonical_ids_are_missing() {
        for p in [
            "/redfish/v1/Chassis/1",
            "/redfish/v1/Chassis/0000000A",
            "/redfish/v1/Chassis/rack",
            "/redfish/v1/Systems/00000001-16FF",
            "/redfish/v1/Systems/00000001",
            "/redfish/v1/Systems/00000001-16ff-1",
            "/redfish/v1/Managers/1",
            "/redfish/v2",
            "/redfish/v1//",
            "/redfish/v1/Chassis/Rack/Sensors",
            "/redfish/v1/Chassis/00000001/Sensors/01FF-Temperature",
            "/redfish/v1/Chassis/00000001/Sensors/01ff",
            "/redfish/v1/Chassis/00000001/Sensors/01ff-",
        ] {
            assert_eq!(r(p), Some(Resource::Missing), "{p}");
        }
    }

    #[test]
    fn permissions_methods_and_public_resources() {
        let sys = SystemId {
            board: 1,
            device: 2,
        };
        assert_eq!(Resource::SystemReset(sys).permission(), Permission::Operate);
        assert_eq!(
            r("/redfish/v1/Chassis/Rack/Actions/Chassis.Reset"),
            Some(Resource::ChassisReset(ChassisId::Rack))
        );
        assert_eq!(
            Resource::ChassisReset(ChassisId::Rack).permission(),
            Permission::Operate
        );
        assert_eq!(
            Resource::ChassisReset(ChassisId::Rack).allow_header(),
            "POST"
        );
        assert_eq!(Resource::System(sys).permission(), Permission::Read);
        assert_eq!(
            Resource::System(sys).permission_for(&Method::PATCH),
            Permission::Operate
        );
        assert!(Resource::System(sys).allows(&Method::PATCH));
        let bmc = SystemId::bmc(1);
        // A BMC's server: its boot override.
        assert!(Resource::System(bmc).allows(&Method::PATCH));
        assert!(Resource::SystemReset(sys).allows(&Method::POST));
        assert!(!Resource::SystemReset(sys).allows(&Method::GET));
        assert!(!Resource::System(sys).allows(&Method::POST));
        assert!(Resource::System(sys).allows(&Method::HEAD));
        let bmc = SystemId {
            board: 0x4000_0000,
            device: 1,
        };
        assert!(Resource::System(bmc).allows(&Method::PATCH));
        assert_eq!(
            Resource::System(bmc).permission_for(&Method::PATCH),
            Permission::Operate
        );
        assert_eq!(Resource::System(bmc).permission(), Permission::Read);
        assert!(Resource::SessionCollection.allows(&Method::POST));
        assert!(Resource::SessionCollection.is_public_for(&Method::POST));
        assert!(!Resource::SessionCollection.is_public_for(&Method::GET));
        assert!(!Resource::Session("0123456789abcdef".into()).is_public_for(&Method::DELETE));
        assert!(Resource::Session("0123456789abcdef".into()).allows(&Method::DELETE));
        let ops = Resource::Account("ops".into());
        assert!(ops.allows(&Method::PATCH) && !ops.allows(&Method::POST));
        assert_eq!(ops.permission_for(&Method::PATCH), Permission::Read);
        assert_eq!(ops.permission_for(&Method::DELETE), Permission::Administer);
        assert_eq!(
            Resource::AccountCollection.permission_for(&Method::POST),
            Permission::Administer
        );
        assert_eq!(
            r("/redfish/v1/SessionService/Sessions/0123456789abcdef"),
            Some(Resource::Session("0123456789abcdef".into()))
        );
        assert_eq!(
            r("/redfish/v1/SessionService/Sessions/Members"),
            Some(Resource::SessionCollection)
        );
        assert_eq!(
            r("/redfish/v1/SessionService/Sessions/0123"),
            Some(Resource::Missing)
        );
        assert_eq!(
            r("/redfish/v1/AccountService/Roles/ReadOnly"),
            Some(Resource::Role(RedfishRole::ReadOnly))
        );
        assert_eq!(
            r("/redfish/v1/AccountService/Accounts/ops"),
            Some(Resource::Account("ops".into()))
        );
        assert!(Resource::Missing.allows(&Method::DELETE));
        assert!(Resource::ServiceRoot.is_public());
        assert!(Resource::Metadata.is_public());
        assert!(!Resource::ChassisCollection.is_public());
        assert!(!Resource::SessionService.is_public());
    }

    #[test]
    fn event_service() {
        let subs = Resource::SubscriptionCollection;
        assert_eq!(r("/redfish/v1/EventService/"), Some(Resource::EventService));
        assert_eq!(
            r("/redfish/v1/EventService/Subscriptions"),
            Some(subs.clone())
        );
        assert_eq!(
            r("/redfish/v1/EventService/Subscriptions/12"),
            Some(Resource::Subscription(12))
        );
        assert_eq!(
            r("/redfish/v1/EventService/Subscriptions/012"),
            Some(Resource::Missing)
        );
        assert_eq!(r("/redfish/v1/EventService/SSE"), Some(Resource::EventSse));
        assert_eq!(subs.permission(), Permission::Read);
        assert_eq!(subs.permission_for(&Method::POST), Permission::Operate);
        assert_eq!(
            Resource::Subscription(1).permission_for(&Method::DELETE),
            Permission::Operate
        );
        assert_eq!(Resource::SubmitTestEvent.permission(), Permission::Operate);
        assert!(Resource::EventSse.allows(&Method::GET));
        assert!(!Resource::EventSse.allows(&Method::POST));
        assert!(Resource::Subscription(1).allows(&Method::PATCH));
        assert_eq!(
            Resource::Subscription(1).permission_for(&Method::PATCH),
            Permission::Operate
        );
        assert!(!Resource::Subscription(1).allows(&Method::PUT));
    }

    #[test]
    fn telemetry_service() {
        assert_eq!(
            r("/redfish/v1/TelemetryService"),
            Some(Resource::TelemetryService)
        );
        let report = Resource::MetricReport("RackSensors".into());
        assert_eq!(
            r("/redfish/v1/TelemetryService/MetricReports/RackSensors"),
            Some(report.clone())
        );
        let rack = Resource::MetricReportDefinition("RackSensors".into());
        assert_eq!(
            r("/redfish/v1/TelemetryService/MetricReportDefinitions/RackSensors/"),
            Some(rack.clone())
        );
        assert_eq!(report.permission(), Permission::Read);
        // The service's own definition is read only; an operator's is the
        // operator's to turn off or delete.
        assert!(!rack.allows(&Method::DELETE));
        let own = Resource::MetricReportDefinition("Power".into());
        assert!(own.allows(&Method::DELETE) && own.allows(&Method::PATCH));
        assert_eq!(own.permission_for(&Method::DELETE), Permission::Operate);
        assert_eq!(
            Resource::MetricReportDefinitionCollection.permission_for(&Method::POST),
            Permission::Operate
        );
        assert_eq!(
            r("/redfish/v1/Managers/RackManager/Actions/Manager.Reset"),
            Some(Resource::ManagerReset)
        );
        // An account that must change its password reaches its own account only.
        let own = Resource::Account("new".into());
        assert!(own.allowed_before_password_change(&Method::GET, "new"));
        assert!(own.allowed_before_password_change(&Method::PATCH, "new"));
        assert!(!own.allowed_before_password_change(&Method::DELETE, "new"));
        assert!(!own.allowed_before_password_change(&Method::GET, "other"));
        assert!(!Resource::SessionCollection.allowed_before_password_change(&Method::GET, "new"));
        // The manager's own actions are `ConfigureManager`: an administrator's.
        assert_eq!(Resource::ManagerReset.permission(), Permission::Administer);
        assert_eq!(
            Resource::ReplaceCertificate.permission(),
            Permission::Administer
        );
        assert_eq!(Resource::GenerateCsr.permission(), Permission::Administer);
        let cert = Resource::Certificate("1".into());
        assert_eq!(cert.permission(), Permission::Read);
        assert_eq!(cert.permission_for(&Method::DELETE), Permission::Administer);
        // Firmware updates are `ConfigureComponents`: an operator's.
        assert_eq!(Resource::SimpleUpdate.permission(), Permission::Operate);
        assert!(!Resource::ManagerReset.allows(&Method::GET));
        assert!(!report.allows(&Method::POST));
    }
}
