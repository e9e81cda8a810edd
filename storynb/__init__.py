"""storynb: a topic becomes a narrated story video, one editable stage at a time."""
from .errors import InvalidInput, NotFound, PromptError, StageFailed, StorynbError
from .project import Project
from .runner import STAGES, Event, RunReport
from .studio import Studio

__all__ = ["Studio", "Project", "STAGES", "Event", "RunReport", "StorynbError", "InvalidInput",
           "NotFound", "PromptError", "StageFailed"]
__version__ = "0.1.0"
