//! Pull requests and issue comments.

use serde_json::{json, Value};

use super::super::state::Repo;
use super::super::transport::{
    created, error, no_content, not_found, ok, paginated_array, required_str, validation_failed,
    Answer, Req,
};
use super::super::util::{id_of, now_iso, parse_time};

const COMMENT_LIMIT: usize = 65_536;

impl Repo {
    /// `GET /pulls/{number}`.
    pub(super) fn pull_answer(&self, number: &str) -> Result<Answer, Answer> {
        let number = number.parse::<u64>().map_err(|_| not_found())?;
        Ok(ok(self.pulls.get(&number).ok_or_else(not_found)?.clone()))
    }

    /// `GET /commits/{sha}/pulls`: the pull requests whose merge commit or head is the commit,
    /// by ascending number; 422 for a commit the repository does not have.
    pub(super) fn commit_pulls(&self, req: &Req, sha: &str) -> Result<Answer, Answer> {
        let sha = self.resolve(sha).ok_or_else(|| {
            error(
                422,
                &format!("No commit found for SHA: {sha}"),
                "https://docs.github.com/rest/commits/commits#list-pull-requests-associated-with-a-commit",
            )
        })?;
        let pulls: Vec<Value> = self
            .pulls
            .values()
            .filter(|pull| {
                pull["merge_commit_sha"] == sha.as_str() || pull["head"]["sha"] == sha.as_str()
            })
            .cloned()
            .collect();
        Ok(paginated_array(req, pulls))
    }

    /// `GET /issues/{number}/comments`, oldest first, with `since`.
    pub(super) fn list_comments(&self, req: &Req, issue: &str) -> Result<Answer, Answer> {
        let issue = issue.parse::<u64>().map_err(|_| not_found())?;
        let mut comments = self.comments_on(issue);
        if let Some(since) = req.param("since").and_then(parse_time) {
            comments.retain(|comment| {
                comment["updated_at"]
                    .as_str()
                    .and_then(parse_time)
                    .is_some_and(|updated| updated >= since)
            });
        }
        Ok(paginated_array(req, comments))
    }

    /// `POST /issues/{number}/comments`, by `viewer`.
    pub(super) fn create_comment(
        &mut self,
        req: &Req,
        issue: &str,
        viewer: Value,
    ) -> Result<Answer, Answer> {
        let issue = issue.parse::<u64>().map_err(|_| not_found())?;
        let body = req.json()?;
        let text = required_str(&body, "body")?;
        check_comment_length(text)?;
        let id = self.next_id();
        let comment = self.comment_json(id, issue, text, viewer, &now_iso());
        self.comments.push((issue, comment.clone()));
        let location = comment["url"].as_str().unwrap_or("").to_string();
        Ok(created(comment).header("location", location))
    }

    /// `PATCH /issues/comments/{id}`: a new body.
    pub(super) fn update_comment(&mut self, req: &Req, id: &str) -> Result<Answer, Answer> {
        let index = self.comment_index(id)?;
        let body = req.json()?;
        let text = required_str(&body, "body")?;
        check_comment_length(text)?;
        let comment = &mut self.comments[index].1;
        comment["body"] = json!(text);
        comment["updated_at"] = json!(now_iso());
        Ok(ok(comment.clone()))
    }

    /// `DELETE /issues/comments/{id}`.
    pub(super) fn delete_comment(&mut self, id: &str) -> Result<Answer, Answer> {
        let index = self.comment_index(id)?;
        self.comments.remove(index);
        Ok(no_content())
    }

    fn comment_index(&self, id: &str) -> Result<usize, Answer> {
        let id = id.parse::<u64>().map_err(|_| not_found())?;
        self.comments
            .iter()
            .position(|(_, comment)| id_of(comment) == id)
            .ok_or_else(not_found)
    }
}

fn check_comment_length(text: &str) -> Result<(), Answer> {
    if text.chars().count() > COMMENT_LIMIT {
        return Err(validation_failed(
            "IssueComment",
            "data",
            "Body is too long (maximum is 65536 characters)",
            "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
        ));
    }
    Ok(())
}
