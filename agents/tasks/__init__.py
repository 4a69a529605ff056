"""Tasks: what an organisation is asked to solve (docs/design/protocols.md section 1).

``Task`` is frozen and content-addressed; ``generate_tasks`` builds them deterministically from a
seed; ``load_tasks`` reads a user's task file (JSONL or Parquet, the columns ``write_tasks``
writes) and ``draw_tasks`` picks a block's tasks from it. The rendering of a task into prompt
text lives in ``agents.prompts``.
"""

from agents.tasks.files import TaskFileError, draw_tasks, load_tasks, write_tasks
from agents.tasks.generator import DOMAINS, generate_tasks, role_catalogue
from agents.tasks.model import LEVELS, Requirement, Stakeholder, Task, make_task

__all__ = [
    "DOMAINS",
    "LEVELS",
    "Requirement",
    "Stakeholder",
    "Task",
    "TaskFileError",
    "draw_tasks",
    "generate_tasks",
    "load_tasks",
    "make_task",
    "role_catalogue",
    "write_tasks",
]
