//! Stage files in an S3-compatible bucket (`USE_S3_STORAGE=true`).
//!
//! Object keys are the local paths under the optional prefix, as in the
//! original: `var/users.json` becomes `<prefix>/var/users.json`. The bucket is
//! checked once at start, so a wrong name or key fails before any work, with a
//! message that names the bucket. The lock of the stages that change TimeCamp
//! is an object beside the stage files ([`lock`]); the log stays on local disk.
//!
//! TLS is rustls with the *ring* provider, the one every HTTPS client of the
//! binaries uses (the SDK's default client would bring a second rustls and
//! aws-lc).

pub mod lock;

use async_trait::async_trait;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use scim_core::settings::S3Settings;
use scim_core::storage::{Storage, StorageError, sha256_hex};

/// Object metadata holding the SHA-256 of the body (`x-amz-meta-sha256`), as
/// the newest original writes it, so either tool checks the other's files.
pub const SHA256_METADATA: &str = "sha256";

/// A bucket holding the stage files.
#[derive(Debug, Clone)]
pub struct S3Storage {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    endpoint: String,
    force_path_style: bool,
}

impl S3Storage {
    /// Builds the client and checks that the bucket exists and the keys may use it.
    pub async fn connect(settings: &S3Settings) -> Result<Self, StorageError> {
        let credentials = Credentials::new(
            settings.access_key_id.clone(),
            settings.secret_access_key.expose().to_owned(),
            None,
            None,
            "timecamp-scim settings",
        );
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .credentials_provider(credentials)
            .region(Region::new(settings.region.clone()))
            .force_path_style(settings.force_path_style);
        if let Some(url) = &settings.endpoint_url {
            config = config.endpoint_url(url);
        }
        config = config.http_client(http_client());
        let storage = Self {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.clone(),
            endpoint: settings
                .endpoint_url
                .clone()
                .unwrap_or_else(|| format!("AWS S3 ({})", settings.region)),
            force_path_style: settings.force_path_style,
        };
        storage.check_bucket().await?;
        Ok(storage)
    }

    /// The object key of a stage file.
    pub fn key(&self, name: &str) -> String {
        let name = name.trim_start_matches("./");
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// Downloads an object, refusing one over `limit` bytes: by its length
    /// before the body is read, and by what arrives (a length can be wrong).
    async fn get(&self, name: &str, limit: Option<u64>) -> Result<Vec<u8>, StorageError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .send()
            .await;
        match result {
            Ok(out) => {
                // Written by this tool or the newest original: the digest of the body.
                let expected = out
                    .metadata()
                    .and_then(|m| m.get(SHA256_METADATA))
                    .filter(|v| !v.is_empty())
                    .cloned();
                let too_large = |limit| StorageError::TooLarge {
                    name: self.location(name),
                    limit,
                };
                if let (Some(limit), Some(length)) = (limit, out.content_length())
                    && u64::try_from(length).unwrap_or(0) > limit
                {
                    return Err(too_large(limit));
                }
                let mut body = out.body;
                let mut bytes = Vec::new();
                loop {
                    let chunk = body.try_next().await.map_err(|e| StorageError::Backend {
                        name: self.location(name),
                        message: format!("download interrupted: {e}"),
                    })?;
                    let Some(chunk) = chunk else { break };
                    bytes.extend_from_slice(&chunk);
                    if let Some(limit) = limit
                        && bytes.len() as u64 > limit
                    {
                        return Err(too_large(limit));
                    }
                }
                if let Some(expected) = expected {
                    let actual = sha256_hex(&bytes);
                    if actual != expected {
                        return Err(StorageError::Integrity {
                            name: self.location(name),
                            expected,
                            actual,
                        });
                    }
                }
                Ok(bytes)
            }
            Err(e) if status(&e) == Some(404) || e.code() == Some("NoSuchKey") => {
                Err(StorageError::NotFound {
                    name: self.location(name),
                })
            }
            Err(e) => Err(StorageError::Backend {
                name: self.location(name),
                message: format!("cannot read: {}", describe(&e)),
            }),
        }
    }

    async fn check_bucket(&self) -> Result<(), StorageError> {
        let name = format!("s3://{}", self.bucket);
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let message = match status(&e) {
                    Some(404) => format!(
                        "bucket {:?} does not exist at {} (S3_BUCKET_NAME, S3_ENDPOINT_URL)",
                        self.bucket, self.endpoint
                    ),
                    Some(403) | Some(401) => format!(
                        "access to bucket {:?} was denied: check S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, \
                         and that the key may use the bucket",
                        self.bucket
                    ),
                    Some(301) | Some(400) => format!(
                        "bucket {:?} refused the request (wrong S3_REGION, or S3_FORCE_PATH_STYLE needed?): {}",
                        self.bucket,
                        describe(&e)
                    ),
                    _ => {
                        let why = describe(&e);
                        let unresolved = [
                            "dns error",
                            "failed to lookup",
                            "Name or service not known",
                            "No address associated",
                        ]
                        .iter()
                        .any(|needle| why.contains(needle));
                        let hint = if unresolved && !self.force_path_style {
                            format!(
                                ". The bucket name goes into the host name ({}.<endpoint host>) unless \
                                 S3_FORCE_PATH_STYLE=true, which MinIO and most self-hosted endpoints need",
                                self.bucket
                            )
                        } else {
                            String::new()
                        };
                        format!("cannot reach {}: {why}{hint}", self.endpoint)
                    }
                };
                Err(StorageError::Backend { name, message })
            }
        }
    }
}

/// The SDK's hyper 1 client on rustls with *ring*, trusting the system's
/// certificate authorities (and `SSL_CERT_FILE`, as the other clients do).
pub fn http_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The lock of the stages that change TimeCamp, beside these stage files.
impl S3Storage {
    pub fn timecamp_lock(&self, expiry: std::time::Duration) -> lock::S3Lock {
        lock::S3Lock::new(self.clone(), scim_core::lock::TIMECAMP_LOCK_FILE, expiry)
    }
}

fn status<E, R>(e: &SdkError<E, R>) -> Option<u16>
where
    R: HttpStatus,
{
    e.raw_response().map(HttpStatus::status_code)
}

/// The HTTP status of a raw response, whatever the SDK's response type.
trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The service's error code and message, or the transport error, on one line.
fn describe<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(e).to_string(),
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn describe(&self) -> String {
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("/{}", self.prefix)
        };
        format!(
            "S3 bucket s3://{}{prefix} at {}",
            self.bucket, self.endpoint
        )
    }

    fn location(&self, name: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(name))
    }

    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn read(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        self.get(name, None).await
    }

    async fn read_at_most(&self, name: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        self.get(name, Some(limit)).await
    }

    /// One PUT: S3 replaces an object atomically, so readers see the old or the new file.
    async fn write(&self, name: &str, data: Vec<u8>) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .content_type("application/json")
            .metadata(SHA256_METADATA, sha256_hex(&data))
            .metadata(
                "generated-at",
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
            )
            .body(ByteStream::from(data))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StorageError::Backend {
                name: self.location(name),
                message: format!("cannot write: {}", describe(&e)),
            })
    }

    async fn exists(&self, name: &str) -> Result<bool, StorageError> {
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(StorageError::Backend {
                name: self.location(name),
                message: format!("cannot check: {}", describe(&e)),
            }),
        }
    }
}
