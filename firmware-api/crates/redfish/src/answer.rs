//! What the service answers: status, headers, body, with the protocol
//! headers every Redfish answer carries (DSP0266 "Response headers"), and
//! error bodies whose message ids come from the DMTF Base registry.

use http::header::{HeaderName, HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, LINK};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

/// `OData-Version: 4.0` on every answer.
pub const ODATA_VERSION: HeaderName = HeaderName::from_static("odata-version");
pub(crate) const JSON: &str = "application/json; charset=utf-8";
pub(crate) const XML: &str = "application/xml; charset=utf-8";

/// One answer of the Redfish service.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(status: StatusCode, value: &Value) -> Answer {
        let mut body = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec());
        body.push(b'\n');
        let mut a = Answer::with_body(status, JSON, body);
        if let Some(link) = value["@odata.type"].as_str().and_then(described_by) {
            a.headers.insert(LINK, link);
        }
        // A resource that carries `@odata.etag` sends it as `ETag` too
        // (DSP0266 "ETags": the header and the annotation are one value).
        if let Some(tag) = value["@odata.etag"]
            .as_str()
            .and_then(|t| HeaderValue::from_str(t).ok())
        {
            a.headers.insert(http::header::ETAG, tag);
        }
        a
    }

    pub(crate) fn with_body(
        status: StatusCode,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Answer {
        let mut headers = protocol_headers();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        Answer {
            status,
            headers,
            body,
        }
    }

    pub(crate) fn no_content() -> Answer {
        Answer {
            status: StatusCode::NO_CONTENT,
            headers: protocol_headers(),
            body: Vec::new(),
        }
    }

    /// Sets `Allow`: every answer about an existing resource says which
    /// methods it takes.
    pub fn allow(mut self, allow: &'static str) -> Answer {
        self.headers.insert(ALLOW, HeaderValue::from_static(allow));
        self
    }
}

/// `Link: <…>; rel=describedby` (DSP0266 "Link header"): the DMTF JSON
/// schema of the resource's `@odata.type`, by its public URI, as the
/// service does not host schemas itself.
fn described_by(odata_type: &str) -> Option<HeaderValue> {
    let (namespace, _) = odata_type.strip_prefix('#')?.rsplit_once('.')?;
    HeaderValue::from_str(&format!(
        "<https://redfish.dmtf.org/schemas/v1/{namespace}.json>; rel=describedby"
    ))
    .ok()
}

fn protocol_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ODATA_VERSION, HeaderValue::from_static("4.0"));
    // Readings and power states change between requests: no cached copies.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h
}

/// The Base registry version the message ids name (`Base.1.22.…`).
const BASE: &str = BASE_REGISTRY;
/// The same as `Registry` of `/redfish/v1/Registries/Base`.
pub(crate) const BASE_REGISTRY: &str = "Base.1.22";
/// The registry file the messages' texts are copied from.
pub(crate) const BASE_REGISTRY_FILE: &str = "Base.1.22.1";

/// A message of the DMTF Base registry (DSP8011, `Base.1.22.1`) that this
/// service sends, with the registry's text and resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseMessage {
    ResourceMissingAtURI,
    OperationNotAllowed,
    InsufficientPrivilege,
    NoValidSession,
    ServiceTemporarilyUnavailable,
    MalformedJSON,
    ActionParameterMissing,
    ActionParameterValueNotInList,
    ActionParameterUnknown,
    ActionParameterValueTypeError,
    PayloadTooLarge,
    HeaderInvalid,
    QueryParameterUnsupported,
    InternalError,
    GeneralError,
    PropertyMissing,
    PropertyValueTypeError,
    PropertyUnknown,
    QueryNotSupported,
    QueryParameterValueFormatError,
    QueryParameterOutOfRange,
    QueryNotSupportedOnResource,
    QueryCombinationInvalid,
    PreconditionFailed,
    PreconditionRequired,
    PropertyNotWritable,
    PropertyValueFormatError,
    PropertyValueNotInList,
    PropertyValueOutOfRange,
    PropertyValueConflict,
    NoOperation,
    ServiceDisabled,
    ResourceInUse,
    CreateLimitReachedForResource,
    ActionParameterValueError,
    ActionParameterNotSupported,
    PropertyValueError,
    ActionNotSupported,
    ResourceAlreadyExists,
    CreateFailedMissingReqProperties,
    PasswordChangeRequired,
}

impl BaseMessage {
    fn id(self) -> &'static str {
        match self {
            BaseMessage::ResourceMissingAtURI => "ResourceMissingAtURI",
            BaseMessage::OperationNotAllowed => "OperationNotAllowed",
            BaseMessage::InsufficientPrivilege => "InsufficientPrivilege",
            BaseMessage::NoValidSession => "NoValidSession",
            BaseMessage::ServiceTemporarilyUnavailable => "ServiceTemporarilyUnavailable",
            BaseMessage::MalformedJSON => "MalformedJSON",
            BaseMessage::ActionParameterMissing => "ActionParameterMissing",
            BaseMessage::ActionParameterValueNotInList => "ActionParameterValueNotInList",
            BaseMessage::ActionParameterUnknown => "ActionParameterUnknown",
            BaseMessage::ActionParameterValueTypeError => "ActionParameterValueTypeError",
            BaseMessage::PayloadTooLarge => "PayloadTooLarge",
            BaseMessage::HeaderInvalid => "HeaderInvalid",
            BaseMessage::QueryParameterUnsupported => "QueryParameterUnsupported",
            BaseMessage::InternalError => "InternalError",
            BaseMessage::GeneralError => "GeneralError",
            BaseMessage::PropertyMissing => "PropertyMissing",
            BaseMessage::PropertyValueTypeError => "PropertyValueTypeError",
            BaseMessage::PropertyUnknown => "PropertyUnknown",
            BaseMessage::QueryNotSupported => "QueryNotSupported",
            BaseMessage::QueryParameterValueFormatError => "QueryParameterValueFormatError",
            BaseMessage::QueryParameterOutOfRange => "QueryParameterOutOfRange",
            BaseMessage::QueryNotSupportedOnResource => "QueryNotSupportedOnResource",
            BaseMessage::QueryCombinationInvalid => "QueryCombinationInvalid",
            BaseMessage::PreconditionFailed => "PreconditionFailed",
            BaseMessage::PreconditionRequired => "PreconditionRequired",
            BaseMessage::PropertyNotWritable => "PropertyNotWritable",
            BaseMessage::PropertyValueFormatError => "PropertyValueFormatError",
            BaseMessage::PropertyValueNotInList => "PropertyValueNotInList",
            BaseMessage::PropertyValueOutOfRange => "PropertyValueOutOfRange",
            BaseMessage::PropertyValueConflict => "PropertyValueConflict",
            BaseMessage::NoOperation => "NoOperation",
            BaseMessage::ServiceDisabled => "ServiceDisabled",
            BaseMessage::ResourceInUse => "ResourceInUse",
            BaseMessage::CreateLimitReachedForResource => "CreateLimitReachedForResource",
            BaseMessage::ActionParameterValueError => "ActionParameterValueError",
            BaseMessage::ActionParameterNotSupported => "ActionParameterNotSupported",
            BaseMessage::PropertyValueError => "PropertyValueError",
            BaseMessage::ActionNotSupported => "ActionNotSupported",
            BaseMessage::ResourceAlreadyExists => "ResourceAlreadyExists",
            BaseMessage::CreateFailedMissingReqProperties => "CreateFailedMissingReqProperties",
            BaseMessage::PasswordChangeRequired => "PasswordChangeRequired",
        }
    }

    /// (message with `%1`… placeholders, severity, resolution), verbatim
    /// from `Base.1.22.1.json`.
    fn text(self) -> (&'static str, &'static str, &'static str) {
        match self {
            BaseMessage::ResourceMissingAtURI => ("The resource at the URI '%1' was not found.", "Critical", "Place a valid resource at the URI or correct the URI and resubmit the request."),
            BaseMessage::OperationNotAllowed => ("The HTTP method is not allowed on this resource.", "Critical", "None."),
            BaseMessage::InsufficientPrivilege => ("There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.", "Critical", "Either abandon the operation or change the associated access rights and resubmit the request if the operation failed."),
            BaseMessage::NoValidSession => ("There is no valid session established with the implementation.", "Critical", "Establish a session before attempting any operations."),
            BaseMessage::ServiceTemporarilyUnavailable => ("The service is temporarily unavailable.  Retry in %1 seconds.", "Critical", "Wait for the indicated retry duration and retry the operation."),
            BaseMessage::MalformedJSON => ("The request body submitted was malformed JSON and could not be parsed by the receiving service.", "Critical", "Ensure that the request body is valid JSON and resubmit the request."),
            BaseMessage::ActionParameterMissing => ("The action %1 requires the parameter %2 to be present in the request body.", "Critical", "Supply the action with the required parameter in the request body when the request is resubmitted."),
            BaseMessage::ActionParameterValueNotInList => ("The value '%1' for the parameter %2 in the action %3 is not in the list of acceptable values.", "Warning", "Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed."),
            BaseMessage::ActionParameterUnknown => ("The action %1 was submitted with the invalid parameter %2.", "Warning", "Correct the invalid action parameter and resubmit the request if the operation failed."),
            BaseMessage::ActionParameterValueTypeError => ("The value '%1' for the parameter %2 in the action %3 is not a type that the parameter can accept.", "Warning", "Correct the value for the parameter in the request body and resubmit the request if the operation failed."),
            BaseMessage::PayloadTooLarge => ("The supplied payload exceeds the maximum size supported by the service.", "Critical", "Check that the supplied payload is correct and supported by this service."),
            BaseMessage::HeaderInvalid => ("Header '%1' is invalid.", "Critical", "Resubmit the request with a valid header."),
            BaseMessage::QueryParameterUnsupported => ("Query parameter '%1' is not supported.", "Warning", "Correct or remove the query parameter and resubmit the request."),
            BaseMessage::InternalError => ("The request failed due to an internal service error.  The service is still operational.", "Critical", "Resubmit the request.  If the problem persists, consider resetting the service."),
            BaseMessage::PropertyMissing => ("The property %1 is a required property and must be included in the request.", "Warning", "Ensure that the property is in the request body and has a valid value and resubmit the request if the operation failed."),
            BaseMessage::PropertyValueTypeError => ("The value '%1' for the property %2 is not a type that the property can accept.", "Warning", "Correct the value for the property in the request body and resubmit the request if the operation failed."),
            BaseMessage::PropertyUnknown => ("The property %1 is not in the list of valid properties for the resource.", "Warning", "Remove the unknown property from the request body and resubmit the request if the operation failed."),
            BaseMessage::QueryNotSupported => ("Querying is not supported by the implementation.", "Warning", "Remove the query parameters and resubmit the request if the operation failed."),
            BaseMessage::QueryParameterValueFormatError => ("The value '%1' for the parameter %2 is not a format that the parameter can accept.", "Warning", "Correct the value for the query parameter in the request and resubmit the request if the operation failed."),
            BaseMessage::QueryParameterOutOfRange => ("The value '%1' for the query parameter %2 is out of range %3.", "Warning", "Reduce the value for the query parameter to a value that is within range, such as a start or count value that is within bounds of the number of resources in a collection or a page number that is within the range of valid pages."),
            BaseMessage::QueryNotSupportedOnResource => ("Querying is not supported on the requested resource.", "Warning", "Remove the query parameters and resubmit the request if the operation failed."),
            BaseMessage::QueryCombinationInvalid => ("Two or more query parameters in the request cannot be used together.", "Warning", "Remove one or more of the query parameters and resubmit the request if the operation failed."),
            BaseMessage::PreconditionFailed => ("The ETag supplied did not match the ETag required to change this resource.", "Critical", "Try the operation again using the appropriate ETag."),
            BaseMessage::PreconditionRequired => ("A precondition header or annotation is required to change this resource.", "Critical", "Try the operation again using an If-Match or If-None-Match header and appropriate ETag."),
            BaseMessage::PropertyNotWritable => ("The property %1 is a read-only property and cannot be assigned a value.", "Warning", "Remove the property from the request body and resubmit the request if the operation failed."),
            BaseMessage::PropertyValueFormatError => ("The value '%1' for the property %2 is not a format that the property can accept.", "Warning", "Correct the value for the property in the request body and resubmit the request if the operation failed."),
            BaseMessage::PropertyValueNotInList => ("The value '%1' for the property %2 is not in the list of acceptable values.", "Warning", "Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed."),
            BaseMessage::PropertyValueOutOfRange => ("The value '%1' for the property %2 is not in the supported range of acceptable values.", "Warning", "Correct the value for the property in the request body and resubmit the request if the operation failed."),
            BaseMessage::PropertyValueConflict => ("The property '%1' could not be written because its value would conflict with the value of the '%2' property.", "Warning", "None."),
            BaseMessage::NoOperation => ("The request body submitted contain no data to act upon and no changes to the resource took place.", "Warning", "Add properties in the JSON object and resubmit the request."),
            BaseMessage::ServiceDisabled => ("The operation failed because the service at %1 is disabled and cannot accept requests.", "Warning", "Enable the service and resubmit the request if the operation failed."),
            BaseMessage::ResourceInUse => ("The change to the requested resource failed because the resource is in use or in transition.", "Warning", "Remove the condition and resubmit the request if the operation failed."),
            BaseMessage::CreateLimitReachedForResource => ("The create operation failed because the resource has reached the limit of possible resources.", "Critical", "Either delete resources and resubmit the request if the operation failed or do not resubmit the request."),
            BaseMessage::ActionParameterValueError => ("The value for the parameter %1 in the action %2 is invalid.", "Warning", "Correct the value for the parameter in the request body and resubmit the request if the operation failed."),
            BaseMessage::ActionParameterNotSupported => ("The parameter %1 for the action %2 is not supported on the target resource.", "Warning", "Remove the parameter supplied and resubmit the request if the operation failed."),
            BaseMessage::PropertyValueError => ("The value provided for the property %1 is not valid.", "Warning", "Correct the value for the property in the request body and resubmit the request if the operation failed."),
            BaseMessage::ActionNotSupported => ("The action %1 is not supported by the resource.", "Critical", "Check the Actions property in the resource for the supported actions."),
            BaseMessage::ResourceAlreadyExists => ("The requested resource of type %1 with the property %2 with the value '%3' already exists.", "Critical", "Do not repeat the create operation as the resource was already created."),
            BaseMessage::CreateFailedMissingReqProperties => ("The create operation failed because the required property %1 was missing from the request.", "Critical", "Correct the body to include the required property with a valid value and resubmit the request if the operation failed."),
            BaseMessage::PasswordChangeRequired => ("The password provided for this account must be changed before access is granted.  PATCH the Password property for this account located at the target URI '%1' to complete this process.", "Critical", "Change the password for this account using a PATCH to the Password property at the URI provided."),
            BaseMessage::GeneralError => ("A general error has occurred.  See Resolution for information on how to resolve the error, or @Message.ExtendedInfo if Resolution is not provided.", "Critical", "None."),
        }
    }
}

/// A Redfish error: the status and one Base registry message, plus (for
/// `GeneralError`) what actually went wrong as the resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedfishError {
    pub status: StatusCode,
    pub message: BaseMessage,
    pub args: Vec<String>,
    /// Replaces the registry's resolution when the service knows better
    /// (a bus failure says which board did not answer).
    pub detail: Option<String>,
}

/// A JSON value as a message argument: a string's text, anything else its
/// JSON, at most 64 characters (a client's value is echoed, not its essay).
pub(crate) fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.chars().take(64).collect(),
        other => other.to_string().chars().take(64).collect(),
    }
}

impl RedfishError {
    /// The Base message key of the error body's `code`
    /// (`ActionParameterMissing`), for tests.
    #[cfg(test)]
    pub(crate) fn key(&self) -> String {
        let code = self.body()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string();
        code.rsplit('.').next().unwrap_or("").to_string()
    }

    pub fn new(status: StatusCode, message: BaseMessage, args: &[&str]) -> RedfishError {
        RedfishError {
            status,
            message,
            args: args.iter().map(|a| a.to_string()).collect(),
            detail: None,
        }
    }

    /// The same error, with the service's own resolution.
    pub fn with_detail(mut self, detail: impl Into<String>) -> RedfishError {
        self.detail = Some(detail.into());
        self
    }

    /// `400 ActionParameterValueError` of `param` in `action`, and why.
    pub(crate) fn action_value(param: &str, action: &str, why: impl Into<String>) -> RedfishError {
        RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::ActionParameterValueError,
            &[param, action],
        )
        .with_detail(why)
    }

    pub(crate) fn failure(detail: impl Into<String>) -> RedfishError {
        RedfishError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: BaseMessage::GeneralError,
            args: Vec::new(),
            detail: Some(detail.into()),
        }
    }

    pub fn missing(path: &str) -> RedfishError {
        RedfishError::new(
            StatusCode::NOT_FOUND,
            BaseMessage::ResourceMissingAtURI,
            &[path],
        )
    }

    /// An error the HTTP layer raised before any Redfish handler ran
    /// (authentication, limits, timeouts), in Redfish's format:
    /// `detail` says what happened; `retry_secs` fills the retry time of
    /// 429 and 503.
    pub fn from_status(status: StatusCode, detail: &str, retry_secs: Option<u64>) -> RedfishError {
        let retry = retry_secs.unwrap_or(1).to_string();
        let (message, args): (BaseMessage, Vec<String>) = match status {
            StatusCode::UNAUTHORIZED => (BaseMessage::NoValidSession, Vec::new()),
            StatusCode::FORBIDDEN => (BaseMessage::InsufficientPrivilege, Vec::new()),
            StatusCode::PAYLOAD_TOO_LARGE => (BaseMessage::PayloadTooLarge, Vec::new()),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                (BaseMessage::ServiceTemporarilyUnavailable, vec![retry])
            }
            s if s.is_server_error() => (BaseMessage::InternalError, Vec::new()),
            _ => (BaseMessage::GeneralError, Vec::new()),
        };
        RedfishError {
            status,
            message,
            args,
            detail: Some(detail.to_string()),
        }
    }

    /// 403 for an account that must change its password first (DSP0266
    /// "Password change required handling"): the message names where.
    pub fn password_change_required(user: &str) -> RedfishError {
        RedfishError::new(
            StatusCode::FORBIDDEN,
            BaseMessage::PasswordChangeRequired,
            &[&crate::accounts::account_uri(user)],
        )
    }

    /// The error body of DSP0266 "Error responses".
    pub fn body(&self) -> Value {
        let message = self.message();
        json!({
            "error": {
                "code": message["MessageId"],
                "message": message["Message"],
                "@Message.ExtendedInfo": [message],
            }
        })
    }

    /// The error as one `Message` object: the body's extended info, and
    /// what a task lists for a member that failed.
    pub(crate) fn message(&self) -> Value {
        let (template, severity, resolution) = self.message.text();
        let mut text = template.to_string();
        for (i, a) in self.args.iter().enumerate().rev() {
            text = text.replace(&format!("%{}", i + 1), a);
        }
        json!({
            "@odata.type": "#Message.v1_3_0.Message",
            "MessageId": format!("{BASE}.{}", self.message.id()),
            "Message": text,
            "MessageArgs": self.args,
            "MessageSeverity": severity,
            "Resolution": self.detail.as_deref().unwrap_or(resolution),
        })
    }

    pub fn answer(&self) -> Answer {
        Answer::json(self.status, &self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_base_ids_and_filled_arguments() {
        let e = RedfishError::missing("/redfish/v1/Nope");
        let b = e.body();
        assert_eq!(b["error"]["code"], "Base.1.22.ResourceMissingAtURI");
        assert_eq!(
            b["error"]["message"],
            "The resource at the URI '/redfish/v1/Nope' was not found."
        );
        let info = &b["error"]["@Message.ExtendedInfo"][0];
        assert_eq!(info["MessageArgs"], json!(["/redfish/v1/Nope"]));
        assert_eq!(info["MessageSeverity"], "Critical");
        let a = e.answer();
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_eq!(a.headers[CONTENT_TYPE], JSON);
        assert_eq!(a.headers[ODATA_VERSION], "4.0");
    }

    #[test]
    fn http_layer_statuses_map_to_base_messages() {
        let code = |s, r| RedfishError::from_status(s, "x", r).body()["error"]["code"].clone();
        assert_eq!(
            code(StatusCode::UNAUTHORIZED, None),
            "Base.1.22.NoValidSession"
        );
        assert_eq!(
            code(StatusCode::FORBIDDEN, None),
            "Base.1.22.InsufficientPrivilege"
        );
        assert_eq!(
            code(StatusCode::PAYLOAD_TOO_LARGE, None),
            "Base.1.22.PayloadTooLarge"
        );
        let busy = RedfishError::from_status(StatusCode::TOO_MANY_REQUESTS, "x", Some(30)).body();
        assert_eq!(
            busy["error"]["code"],
            "Base.1.22.ServiceTemporarilyUnavailable"
        );
        assert_eq!(
            busy["error"]["message"],
            "The service is temporarily unavailable.  Retry in 30 seconds."
        );
        assert_eq!(
            code(StatusCode::REQUEST_TIMEOUT, None),
            "Base.1.22.GeneralError"
        );
        assert_eq!(
            code(StatusCode::INTERNAL_SERVER_ERROR, None),
            "Base.1.22.InternalError"
        );
    }

    #[test]
    fn resources_link_their_json_schema_errors_do_not() {
        let link = |t: &str| {
            Answer::json(StatusCode::OK, &json!({ "@odata.type": t }))
                .headers
                .get(LINK)
                .cloned()
        };
        assert_eq!(
            link("#Chassis.v1_28_0.Chassis").unwrap(),
            "<https://redfish.dmtf.org/schemas/v1/Chassis.v1_28_0.json>; rel=describedby"
        );
        assert_eq!(
            link("#ChassisCollection.ChassisCollection").unwrap(),
            "<https://redfish.dmtf.org/schemas/v1/ChassisCollection.json>; rel=describedby"
        );
        assert!(RedfishError::missing("/x")
            .answer()
            .headers
            .get(LINK)
            .is_none());
    }

    #[test]
    fn three_arguments_and_a_detail() {
        let e = RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::ActionParameterValueNotInList,
            &["Nmi", "ResetType", "ComputerSystem.Reset"],
        );
        assert_eq!(
            e.body()["error"]["message"],
            "The value 'Nmi' for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values."
        );
        let f = RedfishError::failure("board 00000001 did not answer");
        assert_eq!(f.body()["error"]["code"], "Base.1.22.GeneralError");
        assert_eq!(
            f.body()["error"]["@Message.ExtendedInfo"][0]["Resolution"],
            "board 00000001 did not answer"
        );
    }
}
