//! The GitHub Deployment of a run, written through one recorder. A status write that fails is a
//! warning: it never changes what happens to production or the outcome.

use crate::config::Environment;
use crate::github::client::Client;
use crate::github::gather::Repo;
use crate::github::write::{self, NewDeployment};
use crate::report::Reporter;

/// How many times a status write is sent at most, and the pause before looking again.
const STATUS_ATTEMPTS: u32 = 3;
const STATUS_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// A GitHub Deployment being recorded.
pub struct Recorder<'a> {
    client: &'a Client,
    repo: &'a Repo,
    reporter: &'a dyn Reporter,
    pub id: u64,
    run_url: Option<String>,
    environment_url: Option<String>,
}

impl<'a> Recorder<'a> {
    /// Creates the Deployment. Its creation failing is for the caller to judge: `deploy` does not
    /// start without its record, a `rollback` goes on without one.
    pub async fn create(
        client: &'a Client,
        repo: &'a Repo,
        reporter: &'a dyn Reporter,
        deployment: NewDeployment<'_>,
        run_url: Option<String>,
        environment_url: Option<&url::Url>,
    ) -> Result<Recorder<'a>, crate::github::client::GitHubError> {
        let id = write::create_deployment(client, repo, deployment).await?;
        Ok(Recorder {
            client,
            repo,
            reporter,
            id,
            run_url,
            environment_url: environment_url.map(|u| u.as_str().to_owned()),
        })
    }

    /// Records a rollback of `env` as a Deployment (task `deploy:rollback`, on the rollback ref)
    /// and marks it `in_progress`. A rollback never waits on GitHub: when the record cannot be
    /// written it warns and goes on without one.
    pub async fn rollback(
        client: &'a Client,
        repo: &'a Repo,
        reporter: &'a dyn Reporter,
        env: &Environment,
        description: &str,
        payload: serde_json::Value,
        run_url: Option<String>,
    ) -> Option<Recorder<'a>> {
        let deployment = NewDeployment {
            sha: &env.rollback.git_ref,
            environment: &env.name,
            task: write::TASK_ROLLBACK,
            production: env.production,
            description,
            payload,
        };
        match Recorder::create(
            client,
            repo,
            reporter,
            deployment,
            run_url,
            env.url.as_ref(),
        )
        .await
        {
            Ok(record) => {
                record.set("in_progress", false, "rolling back").await;
                Some(record)
            }
            Err(error) => {
                reporter.warning(&format!("could not write the rollback deployment: {error}"));
                None
            }
        }
    }

    /// Sets the Deployment's state; `live` adds the environment's URL (the release serves it).
    /// A write that fails with a 5xx or on the way may still have landed: the latest status is
    /// read back, and the write sent again only when it is not there, so one bad answer never
    /// leaves the Deployment `in_progress`.
    pub async fn set(&self, state: &str, live: bool, description: &str) {
        let environment_url = self.environment_url.as_deref().filter(|_| live);
        let mut attempt = 0u32;
        let error = loop {
            attempt += 1;
            let written = write::set_deployment_status(
                self.client,
                self.repo,
                self.id,
                state,
                self.run_url.as_deref(),
                environment_url,
                description,
            )
            .await;
            let error = match written {
                Ok(()) => return,
                Err(error) => error,
            };
            let may_have_landed = error.status().is_none_or(|status| status >= 500);
            if !may_have_landed || attempt >= STATUS_ATTEMPTS {
                break error;
            }
            tokio::time::sleep(STATUS_PAUSE * attempt).await;
            let latest = write::latest_status_state(self.client, self.repo, self.id).await;
            if latest.ok().flatten().as_deref() == Some(state) {
                return;
            }
        };
        self.reporter
            .warning(&format!("could not write the deployment status: {error}"));
    }
}
