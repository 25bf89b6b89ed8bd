//! Pull requests and issue comments.

use serde_json::Value;

use super::super::state::Repo;
use super::super::transport::{
    created, not_found, paginated_array, required_str, validation_failed, Answer, Req,
};
use super::super::util::{id_of, now_iso, parse_time};

pub(super) const COMMENT_LIMIT: usize = 65_536;

impl Repo {
    pub(super) fn list_comments(&self, req: &Req, issue: u64) -> Answer {
        let mut comments = self.comments_on(issue);
        if let Some(since) = req.param("since").and_then(parse_time) {
            comments.retain(|comment| {
                comment["updated_at"]
                    .as_str()
                    .and_then(parse_time)
                    .is_some_and(|updated| updated >= since)
            });
        }
        paginated_array(req, comments)
    }

    pub(super) fn create_comment(
        &mut self,
        req: &Req,
        issue: u64,
        viewer: Value,
    ) -> Result<Answer, Answer> {
        let body = req.json()?;
        let text = required_str(&body, "body")?;
        check_comment_length(text)?;
        let id = self.next_id();
        let comment = self.comment_json(id, issue, text, viewer, &now_iso());
        self.comments.push((issue, comment.clone()));
        let location = comment["url"].as_str().unwrap_or("").to_string();
        Ok(created(comment).header("location", location))
    }

    pub(super) fn comment_index(&self, id: &str) -> Result<usize, Answer> {
        let id = id.parse::<u64>().map_err(|_| not_found())?;
        self.comments
            .iter()
            .position(|(_, comment)| id_of(comment) == id)
            .ok_or_else(not_found)
    }
}

pub(super) fn check_comment_length(text: &str) -> Result<(), Answer> {
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
