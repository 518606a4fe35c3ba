"""Policy-opinion polls (Pendapat Kebijakan) in intake: the HTTP API, the citizen's web pages, the
SMS answer (`POLL <CODE> <CHOICE>`), the one-time codes that verify a citizen, and the polls view.

- `usecases.py`: what the routes, pages and the closing job do (load `poll-<CODE>`, decide with
  `shared.polls.lifecycle`, append); `views.py`: the polls view (`intake-polls.db`), which never
  holds an answer; `codes.py`: identities, one-time codes and their sender; `sms.py`: the answer
  by SMS; `api.py` + `models.py`: the JSON API and its contract; `pages.py`: the web pages;
  `ports.py`: what polls use of the rest of intake; `wiring.py`: `build(ctx, intake)`.
- A citizen is verified before answering: on the web by a 6-digit code sent to their phone or
  e-mail, by SMS by the number the telco delivered. Only a keyed hash of the identity and the poll
  code (`voter_hash`) is stored.
- Running tallies do not exist anywhere before `PollClosed` + `PollResultsPublished`, which the
  domain appends together; polls close on schedule (the `close-polls` job) and lazily when someone
  asks for the results or the institution responds.
"""

from services.intake.polls.sms import answer_by_sms
from services.intake.polls.views import create_projector
from services.intake.polls.wiring import build

__all__ = ["answer_by_sms", "build", "create_projector"]
