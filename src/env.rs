//! Every environment variable shipgate reads, in one place. Only the edges (`cli`, `run`) read
//! them; the core receives their values as facts.

pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
pub const GH_TOKEN: &str = "GH_TOKEN";
pub const GITHUB_API_URL: &str = "GITHUB_API_URL";
pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
pub const GITHUB_ACTOR: &str = "GITHUB_ACTOR";
pub const GITHUB_EVENT_NAME: &str = "GITHUB_EVENT_NAME";
pub const GITHUB_EVENT_PATH: &str = "GITHUB_EVENT_PATH";
pub const GITHUB_SHA: &str = "GITHUB_SHA";
pub const GITHUB_SERVER_URL: &str = "GITHUB_SERVER_URL";
pub const GITHUB_RUN_ID: &str = "GITHUB_RUN_ID";
pub const GITHUB_JOB: &str = "GITHUB_JOB";
pub const GITHUB_REF: &str = "GITHUB_REF";
pub const FLY_API_TOKEN: &str = "FLY_API_TOKEN";
/// Read by flyctl before `FLY_API_TOKEN`; shipgate never passes it on.
pub const FLY_ACCESS_TOKEN: &str = "FLY_ACCESS_TOKEN";
pub const SHIPGATE_CONFIG: &str = "SHIPGATE_CONFIG";
pub const SHIPGATE_FLY: &str = "SHIPGATE_FLY";
pub const SHIPGATE_WEBHOOK_URL: &str = "SHIPGATE_WEBHOOK_URL";
pub const SHIPGATE_LOG: &str = "SHIPGATE_LOG";
/// The GitHub App `shipgate serve` authenticates as: its id, and its private key (PEM) given
/// inline or as a file.
pub const SHIPGATE_APP_ID: &str = "SHIPGATE_APP_ID";
pub const SHIPGATE_APP_PRIVATE_KEY: &str = "SHIPGATE_APP_PRIVATE_KEY";
pub const SHIPGATE_APP_PRIVATE_KEY_FILE: &str = "SHIPGATE_APP_PRIVATE_KEY_FILE";
/// The GitHub App's webhook secret: `shipgate serve` verifies every delivery with it.
pub const SHIPGATE_WEBHOOK_SECRET: &str = "SHIPGATE_WEBHOOK_SECRET";
/// Extra PEM roots for the SMTP server's certificate (a private CA).
pub const SHIPGATE_SMTP_CA_FILE: &str = "SHIPGATE_SMTP_CA_FILE";

/// shipgate's own secrets, never passed to a configured command (`steps:`): a step is given what
/// it needs through its `env:`.
pub const WITHHELD_FROM_STEPS: [&str; 13] = [
    GITHUB_TOKEN,
    GH_TOKEN,
    FLY_API_TOKEN,
    FLY_ACCESS_TOKEN,
    SHIPGATE_WEBHOOK_URL,
    "SHIPGATE_SMTP_URL",
    "SHIPGATE_SLACK_WEBHOOK_URL",
    "SHIPGATE_TEAMS_WEBHOOK_URL",
    "SHIPGATE_DISCORD_WEBHOOK_URL",
    "ACTIONS_RUNTIME_TOKEN",
    SHIPGATE_APP_PRIVATE_KEY,
    SHIPGATE_WEBHOOK_SECRET,
    "SHIPGATE_DATABASE_URL",
];

/// The ambient values the commands of this build use, read once at start.
#[derive(Debug, Clone, Default)]
pub struct Ambient {
    pub actor: Option<String>,
    pub github_token: Option<crate::secret::Secret>,
    /// `GITHUB_API_URL`, or `https://api.github.com`.
    pub api_url: String,
    /// The fly binary's name or path, as `deploy` will run it.
    pub fly: String,
    /// `SHIPGATE_FLY` as given (the binary is searched for when it is unset).
    pub fly_override: Option<String>,
    /// `SHIPGATE_WEBHOOK_URL`: where deploy notifications go (a secret).
    pub webhook_url: Option<crate::secret::Secret>,
    /// `FLY_API_TOKEN`, passed to fly only.
    pub fly_token: Option<crate::secret::Secret>,
    /// The workflow run's context, when running in GitHub Actions.
    pub event_name: Option<String>,
    pub event_path: Option<std::path::PathBuf>,
    pub sha: Option<String>,
    pub server_url: Option<String>,
    pub run_id: Option<String>,
    pub job: Option<String>,
    /// `GITHUB_REF`, e.g. `refs/heads/main`.
    pub git_ref: Option<String>,
    /// `SHIPGATE_APP_ID`, as given (checked where it is used).
    pub app_id: Option<String>,
    /// `SHIPGATE_APP_PRIVATE_KEY`: the GitHub App's private key, PEM.
    pub app_private_key: Option<crate::secret::Secret>,
    /// `SHIPGATE_APP_PRIVATE_KEY_FILE`: a file holding it.
    pub app_private_key_file: Option<std::path::PathBuf>,
}

/// A variable the config names (a step's `${env.NAME}`, the watch's `url_env`), read when the
/// config says which; empty is unset.
#[allow(clippy::disallowed_methods)] // read here, where every variable is read
pub fn named(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `SHIPGATE_WEBHOOK_SECRET`, for `shipgate serve`; empty is unset.
pub fn webhook_secret() -> Option<crate::secret::Secret> {
    named(SHIPGATE_WEBHOOK_SECRET).and_then(crate::secret::Secret::new)
}

impl Ambient {
    /// The secrets other than the Fly token: masked wherever fly's output goes.
    pub fn other_secrets(&self) -> Vec<crate::secret::Secret> {
        [&self.github_token, &self.webhook_url]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// `https://github.com/OWNER/NAME/actions/runs/ID` when running in Actions.
    pub fn run_url(&self, repo: &str) -> Option<String> {
        let server = self.server_url.as_deref().unwrap_or("https://github.com");
        self.run_id
            .as_ref()
            .map(|id| format!("{}/{repo}/actions/runs/{id}", server.trim_end_matches('/')))
    }
}

pub const GITHUB_OUTPUT: &str = "GITHUB_OUTPUT";
pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";

/// What a container action step is given: every variable (the `INPUT_*` among them), the file
/// commands' paths, and the webhook URL to mask. Plain values; `action` makes its inputs of them.
/// No `Debug`: `vars` holds tokens.
#[derive(Default)]
pub struct StepEnv {
    pub vars: Vec<(String, String)>,
    pub output: Option<std::path::PathBuf>,
    pub summary: Option<std::path::PathBuf>,
    pub webhook: Option<crate::secret::Secret>,
}

/// The environment of a container action step (`shipgate action`).
#[allow(clippy::disallowed_methods)] // the one place that reads the environment
pub fn step_env() -> StepEnv {
    let path = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    StepEnv {
        vars: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
        output: path(GITHUB_OUTPUT),
        summary: path(GITHUB_STEP_SUMMARY),
        webhook: std::env::var(SHIPGATE_WEBHOOK_URL)
            .ok()
            .and_then(crate::secret::Secret::new),
    }
}

impl Ambient {
    #[allow(clippy::disallowed_methods)] // the one place that reads the environment
    pub fn read() -> Self {
        let non_empty = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Ambient {
            actor: non_empty(GITHUB_ACTOR),
            github_token: non_empty(GITHUB_TOKEN)
                .or_else(|| non_empty(GH_TOKEN))
                .and_then(crate::secret::Secret::new),
            api_url: non_empty(GITHUB_API_URL)
                .unwrap_or_else(|| "https://api.github.com".to_owned()),
            fly: non_empty(SHIPGATE_FLY).unwrap_or_else(|| "flyctl".to_owned()),
            fly_override: non_empty(SHIPGATE_FLY),
            webhook_url: non_empty(SHIPGATE_WEBHOOK_URL).and_then(crate::secret::Secret::new),
            fly_token: non_empty(FLY_API_TOKEN).and_then(crate::secret::Secret::new),
            event_name: non_empty(GITHUB_EVENT_NAME),
            event_path: non_empty(GITHUB_EVENT_PATH).map(std::path::PathBuf::from),
            sha: non_empty(GITHUB_SHA),
            server_url: non_empty(GITHUB_SERVER_URL),
            run_id: non_empty(GITHUB_RUN_ID),
            job: non_empty(GITHUB_JOB),
            git_ref: non_empty(GITHUB_REF),
            app_id: non_empty(SHIPGATE_APP_ID),
            app_private_key: non_empty(SHIPGATE_APP_PRIVATE_KEY)
                .and_then(crate::secret::Secret::new),
            app_private_key_file: non_empty(SHIPGATE_APP_PRIVATE_KEY_FILE)
                .map(std::path::PathBuf::from),
        }
    }
}
