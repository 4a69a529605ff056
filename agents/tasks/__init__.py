"""Tasks: what an organisation is asked to solve (PROTOCOLS.md section 1).

``Task`` is frozen and content-addressed; ``generate_tasks`` builds them deterministically from a
seed; ``load_tasks`` reads a user's task file. The rendering of a task into prompt text lives in
``agents.prompts``.
"""

from agents.tasks.model import LEVELS, Requirement, Stakeholder, Task, make_task
from agents.tasks.generator import DOMAINS, generate_tasks, role_catalogue

__all__ = [
    "DOMAINS",
    "LEVELS",
    "Requirement",
    "Stakeholder",
    "Task",
    "generate_tasks",
    "make_task",
    "role_catalogue",
]
