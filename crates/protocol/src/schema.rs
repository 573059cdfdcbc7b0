//! The schemas the endpoint serves, declared once: what `/Schemas` publishes
//! is rendered from these tables, and the same tables decide how a request is
//! read (attribute names in any case, the type of each value, what a client
//! may write), how a filter compares (`caseExact`) and what an answer holds
//! (`returned`). A published schema and the behaviour cannot disagree.
//!
//! The User schema is RFC 7643's in full (section 4.1) with the enterprise
//! extension (section 4.3), so every attribute Entra ID or Okta may map is
//! stored and returned as sent; the Group schema (section 4.2) adds the
//! `display` of a member, which both providers send. `id`, `externalId` and
//! `meta` are the common attributes of section 3.1.

use serde_json::{Map, Value, json};

/// An attribute's data type (RFC 7643, section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// Who may write an attribute (RFC 7643, section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute is in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute of a schema.
#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub description: &'static str,
    pub sub_attributes: &'static [Attribute],
    pub reference_types: &'static [&'static str],
    pub canonical_values: &'static [&'static str],
}

const fn attr(name: &'static str, ty: AttrType, description: &'static str) -> Attribute {
    Attribute {
        name,
        ty,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        description,
        sub_attributes: &[],
        reference_types: &[],
        canonical_values: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> Attribute {
    attr(name, AttrType::String, description)
}

const fn boolean(name: &'static str, description: &'static str) -> Attribute {
    attr(name, AttrType::Boolean, description)
}

const fn reference(
    name: &'static str,
    types: &'static [&'static str],
    description: &'static str,
) -> Attribute {
    Attribute {
        reference_types: types,
        ..attr(name, AttrType::Reference, description)
    }
}

const fn complex(
    name: &'static str,
    subs: &'static [Attribute],
    description: &'static str,
) -> Attribute {
    Attribute {
        sub_attributes: subs,
        ..attr(name, AttrType::Complex, description)
    }
}

impl Attribute {
    const fn multi(self) -> Self {
        Self {
            multi_valued: true,
            ..self
        }
    }
    const fn required(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }
    const fn exact(self) -> Self {
        Self {
            case_exact: true,
            ..self
        }
    }
    const fn read_only(self) -> Self {
        Self {
            mutability: Mutability::ReadOnly,
            ..self
        }
    }
    const fn immutable(self) -> Self {
        Self {
            mutability: Mutability::Immutable,
            ..self
        }
    }
    const fn write_only(self) -> Self {
        Self {
            mutability: Mutability::WriteOnly,
            returned: Returned::Never,
            ..self
        }
    }
    const fn always(self) -> Self {
        Self {
            returned: Returned::Always,
            ..self
        }
    }
    const fn unique(self) -> Self {
        Self {
            uniqueness: Uniqueness::Server,
            ..self
        }
    }
    const fn canonical(self, values: &'static [&'static str]) -> Self {
        Self {
            canonical_values: values,
            ..self
        }
    }

    /// The sub-attribute called `name`, in any case (RFC 7643, section 2.1).
    pub fn sub(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }

    /// What `/Schemas` says about the attribute.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "name": self.name,
            "type": self.ty.as_str(),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
                Mutability::WriteOnly => "writeOnly",
            },
            "returned": match self.returned {
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Default => "default",
                Returned::Request => "request",
            },
            "uniqueness": match self.uniqueness {
                Uniqueness::None => "none",
                Uniqueness::Server => "server",
                Uniqueness::Global => "global",
            },
        });
        if !self.canonical_values.is_empty() {
            out["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            out["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            out["subAttributes"] =
                Value::Array(self.sub_attributes.iter().map(Attribute::to_json).collect());
        }
        out
    }
}

/// A schema: its URN, name and attributes.
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

impl Schema {
    /// The attribute called `name`, in any case.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether `urn` names this schema (URNs compare without case).
    pub fn is(&self, urn: &str) -> bool {
        self.id.eq_ignore_ascii_case(urn)
    }

    /// The schema as `/Schemas` serves it; `base` is the endpoint's URL.
    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "schemas": [SCHEMA_URN],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{}", self.id)},
        })
    }
}

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SERVICE_PROVIDER_CONFIG_URN: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

const TYPES_WORK_HOME_OTHER: &[&str] = &["work", "home", "other"];

/// `value`, `display`, `type`, `primary`: the sub-attributes of most
/// multi-valued attributes of a User.
macro_rules! plural {
    ($value:expr, $types:expr) => {
        &[
            $value,
            string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            string("type", "A label indicating the attribute's function.").canonical($types),
            boolean(
                "primary",
                "A Boolean value indicating the 'primary' or preferred attribute value.",
            ),
        ]
    };
}

/// The common attributes every resource has (RFC 7643, section 3.1).
pub mod common {
    use super::*;

    pub const ID: Attribute = string(
        "id",
        "Unique identifier of the resource, assigned by the service provider.",
    )
    .exact()
    .read_only()
    .always()
    .unique();
    pub const EXTERNAL_ID: Attribute = string(
        "externalId",
        "Identifier of the resource as the provisioning client knows it.",
    )
    .exact();
    pub const META: Attribute = complex(
        "meta",
        &[
            string("resourceType", "The name of the resource type.")
                .exact()
                .read_only(),
            attr(
                "created",
                AttrType::DateTime,
                "When the resource was added.",
            )
            .read_only(),
            attr(
                "lastModified",
                AttrType::DateTime,
                "When the resource was last changed.",
            )
            .read_only(),
            reference("location", &["uri"], "The URI of the resource.").read_only(),
            string("version", "The version of the resource.")
                .exact()
                .read_only(),
        ],
        "Resource metadata.",
    )
    .read_only();

    /// `id`, `externalId` or `meta`, by name in any case.
    pub fn attribute(name: &str) -> Option<&'static Attribute> {
        [&ID, &EXTERNAL_ID, &META]
            .into_iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

pub static USER: Schema = Schema {
    id: USER_URN,
    name: "User",
    description: "User Account",
    attributes: &[
        string("userName", "Unique identifier for the User, used to sign in; TimeCamp's e-mail when it is an e-mail address.")
            .required()
            .unique(),
        complex(
            "name",
            &[
                string("formatted", "The full name."),
                string("familyName", "The family name."),
                string("givenName", "The given name."),
                string("middleName", "The middle name(s)."),
                string("honorificPrefix", "The honorific prefix(es)."),
                string("honorificSuffix", "The honorific suffix(es)."),
            ],
            "The components of the user's real name.",
        ),
        string("displayName", "The name of the User, suitable for display; TimeCamp's user name."),
        string("nickName", "The casual way to address the user."),
        reference("profileUrl", &["external"], "A URI that is a uniform resource locator of the User's online profile."),
        string("title", "The user's title; TimeCamp's job title."),
        string("userType", "The relationship between the organization and the user."),
        string("preferredLanguage", "The User's preferred written or spoken language."),
        string("locale", "The User's default location."),
        string("timezone", "The User's time zone in the 'Olson' time zone database format."),
        boolean("active", "The User's administrative status; false disables the TimeCamp user."),
        string("password", "Accepted and discarded: TimeCamp passwords are not set through SCIM.")
            .write_only(),
        complex(
            "emails",
            plural!(string("value", "An e-mail address."), TYPES_WORK_HOME_OTHER),
            "E-mail addresses for the user.",
        )
        .multi(),
        complex(
            "phoneNumbers",
            plural!(string("value", "A phone number."), &["work", "home", "mobile", "fax", "pager", "other"]),
            "Phone numbers for the User.",
        )
        .multi(),
        complex(
            "ims",
            plural!(string("value", "An instant messaging address."), &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
            "Instant messaging addresses for the User.",
        )
        .multi(),
        complex(
            "photos",
            plural!(reference("value", &["external"], "URL of a photo of the User."), &["photo", "thumbnail"]),
            "URLs of photos of the User.",
        )
        .multi(),
        complex(
            "addresses",
            &[
                string("formatted", "The full mailing address."),
                string("streetAddress", "The full street address component."),
                string("locality", "The city or locality component."),
                string("region", "The state or region component."),
                string("postalCode", "The zip code or postal code component."),
                string("country", "The country name component."),
                string("type", "A label indicating the attribute's function.").canonical(TYPES_WORK_HOME_OTHER),
                boolean("primary", "A Boolean value indicating the 'primary' or preferred attribute value."),
            ],
            "A physical mailing address for this User.",
        )
        .multi(),
        complex(
            "groups",
            &[
                string("value", "The identifier of the User's group.").read_only(),
                reference("$ref", &["User", "Group"], "The URI of the group.").read_only(),
                string("display", "A human-readable name of the group.").read_only(),
                string("type", "Direct membership.").read_only().canonical(&["direct", "indirect"]),
            ],
            "The groups the user belongs to, from the Groups' members.",
        )
        .multi()
        .read_only(),
        complex(
            "entitlements",
            plural!(string("value", "The value of an entitlement."), &[]),
            "A list of entitlements for the User.",
        )
        .multi(),
        complex(
            "roles",
            plural!(string("value", "The value of a role."), &[]),
            "A list of roles for the User.",
        )
        .multi(),
        complex(
            "x509Certificates",
            plural!(attr("value", AttrType::Binary, "The value of an X.509 certificate."), &[]),
            "A list of certificates issued to the User.",
        )
        .multi(),
    ],
};

pub static ENTERPRISE_USER: Schema = Schema {
    id: ENTERPRISE_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &[
        string(
            "employeeNumber",
            "A string identifier, typically numeric or alphanumeric, assigned to a person.",
        ),
        string("costCenter", "Identifies the name of a cost center."),
        string("organization", "Identifies the name of an organization."),
        string("division", "Identifies the name of a division."),
        string(
            "department",
            "Identifies the name of a department; TimeCamp's group path by default.",
        ),
        complex(
            "manager",
            &[
                string(
                    "value",
                    "The id of the SCIM resource representing the User's manager.",
                ),
                reference(
                    "$ref",
                    &["User"],
                    "The URI of the SCIM resource representing the User's manager.",
                ),
                string("displayName", "The displayName of the User's manager.").read_only(),
            ],
            "The User's manager; shapes the groups in supervisor modes.",
        ),
    ],
};

pub static GROUP: Schema = Schema {
    id: GROUP_URN,
    name: "Group",
    description: "Group",
    attributes: &[
        string("displayName", "A human-readable name for the Group.").required(),
        complex(
            "members",
            &[
                string("value", "Identifier of the member of this Group.").immutable(),
                reference("$ref", &["User", "Group"], "The URI of the member.").immutable(),
                string("display", "A human-readable name of the member.").immutable(),
                string("type", "The type of the member.")
                    .immutable()
                    .canonical(&["User", "Group"]),
            ],
            "A list of members of the Group.",
        )
        .multi(),
    ],
};

const SUPPORTED: &[Attribute] = &[boolean("supported", "Whether the operation is supported.")
    .required()
    .read_only()];

pub static SERVICE_PROVIDER_CONFIG_SCHEMA: Schema = Schema {
    id: SERVICE_PROVIDER_CONFIG_URN,
    name: "Service Provider Configuration",
    description: "Schema for representing the service provider's configuration",
    attributes: &[
        reference("documentationUri", &["external"], "An HTTP-addressable URL pointing to the service provider's help documentation.").read_only(),
        complex("patch", SUPPORTED, "A complex type that specifies PATCH configuration options.").required().read_only(),
        complex(
            "bulk",
            &[
                boolean("supported", "Whether bulk is supported.").required().read_only(),
                attr("maxOperations", AttrType::Integer, "An integer value specifying the maximum number of operations.").required().read_only(),
                attr("maxPayloadSize", AttrType::Integer, "An integer value specifying the maximum payload size in bytes.").required().read_only(),
            ],
            "A complex type that specifies bulk configuration options.",
        )
        .required()
        .read_only(),
        complex(
            "filter",
            &[
                boolean("supported", "Whether filtering is supported.").required().read_only(),
                attr("maxResults", AttrType::Integer, "The maximum number of resources returned in a response.").required().read_only(),
            ],
            "A complex type that specifies FILTER options.",
        )
        .required()
        .read_only(),
        complex("changePassword", SUPPORTED, "A complex type that specifies configuration options related to changing a password.").required().read_only(),
        complex("sort", SUPPORTED, "A complex type that specifies sort result options.").required().read_only(),
        complex("etag", SUPPORTED, "A complex type that specifies ETag configuration options.").required().read_only(),
        complex(
            "authenticationSchemes",
            &[
                string("type", "The authentication scheme.").required().read_only(),
                string("name", "The common authentication scheme name.").required().read_only(),
                string("description", "A description of the authentication scheme.").required().read_only(),
                reference("specUri", &["external"], "An HTTP-addressable URL pointing to the authentication scheme's specification.").read_only(),
                reference("documentationUri", &["external"], "An HTTP-addressable URL pointing to the authentication scheme's usage documentation.").read_only(),
                boolean("primary", "Whether this is the preferred scheme.").read_only(),
            ],
            "A complex type that specifies supported authentication scheme properties.",
        )
        .multi()
        .required()
        .read_only(),
    ],
};

pub static RESOURCE_TYPE_SCHEMA: Schema = Schema {
    id: RESOURCE_TYPE_URN,
    name: "ResourceType",
    description: "Specifies the schema that describes a SCIM resource type",
    attributes: &[
        string("id", "The resource type's server unique id.").read_only(),
        string("name", "The resource type name.")
            .required()
            .read_only(),
        string(
            "description",
            "The resource type's human-readable description.",
        )
        .read_only(),
        reference(
            "endpoint",
            &["uri"],
            "The resource type's HTTP-addressable endpoint relative to the Base URL.",
        )
        .required()
        .read_only(),
        reference(
            "schema",
            &["uri"],
            "The resource type's primary/base schema URI.",
        )
        .required()
        .exact()
        .read_only(),
        complex(
            "schemaExtensions",
            &[
                reference("schema", &["uri"], "The URI of a schema extension.")
                    .required()
                    .exact()
                    .read_only(),
                boolean(
                    "required",
                    "Whether resources of this type must include this extension.",
                )
                .required()
                .read_only(),
            ],
            "A list of URIs of the resource type's schema extensions.",
        )
        .multi()
        .read_only(),
    ],
};

/// The sub-attributes of a schema's `attributes` (RFC 7643, 7), with more
/// at the end (`subAttributes`, which has the same ones but itself).
macro_rules! attribute_fields {
    ($($more:expr),*) => {
        &[
    string("name", "The attribute's name.").required().exact().read_only(),
    string("type", "The attribute's data type.")
        .required()
        .read_only()
        .canonical(&["string", "complex", "boolean", "decimal", "integer", "dateTime", "reference", "binary"]),
    boolean("multiValued", "A Boolean value indicating an attribute's plurality.").required().read_only(),
    string("description", "A human-readable description of the attribute.").exact().read_only(),
    boolean("required", "A boolean value indicating whether or not the attribute is required.").read_only(),
    string("canonicalValues", "A collection of canonical values.").multi().exact().read_only(),
    boolean("caseExact", "A Boolean value indicating whether or not a string attribute is case sensitive.").read_only(),
    string("mutability", "Indicates whether or not an attribute is modifiable.")
        .exact()
        .read_only()
        .canonical(&["readOnly", "readWrite", "immutable", "writeOnly"]),
    string("returned", "Indicates when an attribute is returned in a response.")
        .exact()
        .read_only()
        .canonical(&["always", "never", "default", "request"]),
    string("uniqueness", "Indicates how unique a value must be.")
        .exact()
        .read_only()
        .canonical(&["none", "server", "global"]),
    string("referenceTypes", "Used only with an attribute of type 'reference'.").multi().exact().read_only(),
            $($more),*
        ]
    };
}

const SCHEMA_ATTRIBUTE_FIELDS: &[Attribute] = attribute_fields!();

pub static SCHEMA_SCHEMA: Schema = Schema {
    id: SCHEMA_URN,
    name: "Schema",
    description: "Specifies the schema attribute",
    attributes: &[
        string("id", "The unique URI of the schema.")
            .required()
            .read_only(),
        string("name", "The schema's human-readable name.").read_only(),
        string("description", "The schema's human-readable description.").read_only(),
        complex(
            "attributes",
            attribute_fields!(
                complex(
                    "subAttributes",
                    SCHEMA_ATTRIBUTE_FIELDS,
                    "Used to define the sub-attributes of a complex attribute."
                )
                .multi()
                .read_only()
            ),
            "A complex attribute that includes the attributes of a schema.",
        )
        .multi()
        .required()
        .read_only(),
    ],
};

/// Every schema `/Schemas` publishes, resources first.
pub static ALL: [&Schema; 6] = [
    &USER,
    &ENTERPRISE_USER,
    &GROUP,
    &SERVICE_PROVIDER_CONFIG_SCHEMA,
    &RESOURCE_TYPE_SCHEMA,
    &SCHEMA_SCHEMA,
];

/// The schema with this URN, in any case.
pub fn by_id(urn: &str) -> Option<&'static Schema> {
    ALL.iter().copied().find(|s| s.is(urn))
}

static USER_EXTENSIONS: [&Schema; 1] = [&ENTERPRISE_USER];

/// The two kinds of resource the endpoint keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn core(self) -> &'static Schema {
        match self {
            Kind::User => &USER,
            Kind::Group => &GROUP,
        }
    }

    pub fn extensions(self) -> &'static [&'static Schema] {
        match self {
            Kind::User => &USER_EXTENSIONS,
            Kind::Group => &[],
        }
    }

    /// The extension with this URN, in any case.
    pub fn extension(self, urn: &str) -> Option<&'static Schema> {
        self.extensions().iter().copied().find(|s| s.is(urn))
    }

    /// `User` or `Group`, as `meta.resourceType` and `/ResourceTypes` name it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    /// The endpoint under the base path: `/Users`, `/Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "/Users",
            Kind::Group => "/Groups",
        }
    }

    /// The resource type as `/ResourceTypes` serves it.
    pub fn resource_type_json(self, base: &str) -> Value {
        let extensions: Vec<Value> = self
            .extensions()
            .iter()
            .map(|s| json!({"schema": s.id, "required": false}))
            .collect();
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": self.name(),
            "name": self.name(),
            "endpoint": self.endpoint(),
            "description": match self {
                Kind::User => "User Account",
                Kind::Group => "Group",
            },
            "schema": self.core().id,
            "schemaExtensions": extensions,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", self.name())},
        })
    }
}

/// The service provider configuration (RFC 7644, section 5). PATCH and
/// filters are supported; bulk, sorting, ETags and password changes are not.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_URN],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": crate::limits::MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A long-lived bearer token (SCIM_BEARER_TOKEN) in the Authorization header",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

/// A map of a JSON object's keys, for lookups that ignore case.
pub(crate) fn key_in<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    map.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_are_found_in_any_case() {
        assert_eq!(USER.attribute("USERNAME").map(|a| a.name), Some("userName"));
        assert_eq!(
            USER.attribute("emails")
                .and_then(|a| a.sub("VALUE"))
                .map(|a| a.name),
            Some("value")
        );
        assert!(USER.attribute("department").is_none());
        assert!(ENTERPRISE_USER.attribute("department").is_some());
        assert_eq!(
            common::attribute("ExternalID").map(|a| a.name),
            Some("externalId")
        );
    }

    #[test]
    fn schemas_render_every_characteristic() {
        let user = USER.to_json("https://h/scim/v2");
        let user_name = &user["attributes"][0];
        assert_eq!(user_name["name"], "userName");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(
            user["meta"]["location"],
            format!("https://h/scim/v2/Schemas/{USER_URN}")
        );
        let password = USER.attribute("password").unwrap().to_json();
        assert_eq!(
            (
                password["mutability"].as_str(),
                password["returned"].as_str()
            ),
            (Some("writeOnly"), Some("never"))
        );
        let schema = SCHEMA_SCHEMA.to_json("b");
        assert_eq!(
            schema["attributes"][3]["subAttributes"][11]["name"],
            "subAttributes"
        );
        for s in ALL {
            assert_eq!(by_id(&s.id.to_uppercase()).map(|x| x.id), Some(s.id));
        }
    }
}
