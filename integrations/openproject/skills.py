"""The skill OpenProject contributes: a weekly review of the person's work packages."""

from __future__ import annotations

from typing import Final

from hub.integrations.capabilities import SkillDescriptor

WEEKLY_REVIEW_KEY: Final = "weekly_review"

WEEKLY_REVIEW: Final = SkillDescriptor(
    name="Weekly project review",
    description=(
        "Review my OpenProject work packages for the week: what is overdue, what is due soon, "
        "what was done, and what to do next."
    ),
    instructions="""\
Use this when the person asks for a weekly review, a status of their projects, or what to
work on this week.

1. Call `openproject_list_projects` to know the projects by name.
2. Call `openproject_my_work_packages` with `include_closed=true` and a `limit` of 100, so
   open and recently closed work packages are both seen.
3. Sort what you found into:
   - **Overdue**: open work packages whose `overdue` is true, oldest due date first.
   - **Due in the next 7 days**: open ones with a `due_date` from today to a week from today.
   - **Done**: closed ones (`closed` is true) due in the last 7 days, if any.
   - **No due date**: open ones without a `due_date`; mention how many, list at most five.
4. Answer with one short section per group, grouped by project within each section. Give each
   work package as its subject, its status, its due date and its link (`url`). Say plainly
   when a group is empty.
5. End with at most three concrete suggestions: which overdue item to move or close first,
   what is at risk this week, and anything that lacks a due date but looks urgent.

Never create or change a work package during the review. If the person then asks for a new one,
use `openproject_create_work_package`; the hub asks them before it runs. If a tool fails (the
server is unreachable, the key was refused), say so and stop instead of guessing.
""",
    required_tools=("openproject_list_projects", "openproject_my_work_packages"),
)
