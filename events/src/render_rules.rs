//! The rules of renders: one attempt at a time, attempts numbered without
//! repeats (so exactly one worker wins each), a request only for a completed
//! room, and completion or failure only of the attempt that runs.

use crate::aggregate::{Phase, Recording, RoomInfo};
use crate::command::RecordingCommand;
use crate::error::RecordingError;
use crate::event::RecordingEvent;

impl Recording {
    pub(crate) fn decide_render(
        &self,
        room: Option<&RoomInfo>,
        command: RecordingCommand,
    ) -> Result<Vec<RecordingEvent>, RecordingError> {
        use RecordingCommand as C;
        use RecordingEvent as E;
        let completed = self.phase == Phase::Completed;
        match command {
            C::RequestRender { layout, force } => {
                if !completed {
                    return Err(RecordingError::Render(
                        "the session is not completed yet".into(),
                    ));
                }
                if let Some(running) = self.render.running {
                    return Err(RecordingError::Render(format!(
                        "render attempt {running} is in progress"
                    )));
                }
                Ok(vec![E::RenderRequested { layout, force }])
            }

            C::StartRender { worker, attempt } => {
                if !completed {
                    return Err(RecordingError::Render(
                        "the session is not completed yet".into(),
                    ));
                }
                if self.render.completed {
                    return Err(RecordingError::Render("the render is already done".into()));
                }
                if self.render.failed {
                    return Err(RecordingError::Render(
                        "the render failed for good; ask for another".into(),
                    ));
                }
                if let Some(running) = self.render.running {
                    return Err(RecordingError::Render(format!(
                        "render attempt {running} is in progress"
                    )));
                }
                if attempt != self.render.attempts + 1 {
                    return Err(RecordingError::Render(format!(
                        "render attempt {attempt} is not next (attempts so far: {})",
                        self.render.attempts
                    )));
                }
                let layout = self
                    .render
                    .layout
                    .or(room.map(|r| r.layout))
                    .unwrap_or_default();
                Ok(vec![E::RenderStarted {
                    worker,
                    layout,
                    attempt,
                    forced: self.render.force,
                }])
            }

            C::CompleteRender {
                attempt,
                key,
                size,
                duration_ms,
                outputs,
                filled_gaps,
            } => {
                self.require_running_render(attempt)?;
                let mut events = vec![E::RenderCompleted {
                    attempt,
                    key,
                    size,
                    duration_ms,
                    outputs,
                    filled_gaps,
                }];
                if self.render.rerun {
                    events.push(self.render_again());
                }
                Ok(events)
            }

            C::FailRender {
                attempt,
                reason,
                last,
                worker_lost,
            } => {
                self.require_running_render(attempt)?;
                let mut events = vec![E::RenderFailed {
                    attempt,
                    reason,
                    last,
                    worker_lost,
                }];
                // A retry reads the late uploads itself; a last failure does not.
                if last && self.render.rerun {
                    events.push(self.render_again());
                }
                Ok(events)
            }
            _ => unreachable!("`decide` sends only decide_render's commands here"),
        }
    }

    fn require_running_render(&self, attempt: u32) -> Result<(), RecordingError> {
        if self.render.running == Some(attempt) {
            Ok(())
        } else {
            Err(RecordingError::Render(format!(
                "render attempt {attempt} is not running"
            )))
        }
    }
}
