"""Notebook panels over the storynb engine (ipywidgets), and the no-code app that puts them in
tabs. Each panel takes a Project (or a Session/Studio) and calls only the engine's public API:

    from storynb.widgets import StoryboardPanel
    StoryboardPanel(project)        # an editable grid under the cell

The engine itself never imports this package.
"""
from .app import App
from .base import Panel, Session, open_studio
from .batch import BatchPanel
from .camera import CameraPanel
from .characters import CharactersPanel
from .clips import ClipsPanel
from .export import ExportPanel
from .flow import FlowPanel, RunBar
from .images import ImagesPanel
from .models import ModelsPanel
from .pipeline import PipelinePanel
from .project import ProjectPanel
from .prompts import PromptsPanel
from .rewrite import RewritePanel
from .storyboard import StoryboardPanel

__all__ = ["App", "RunBar", "Panel", "Session", "open_studio", "ProjectPanel", "PipelinePanel",
           "RewritePanel", "StoryboardPanel", "ImagesPanel", "CameraPanel", "ClipsPanel",
           "ExportPanel", "FlowPanel", "PromptsPanel", "ModelsPanel", "BatchPanel", "CharactersPanel"]
