# Voila settings for the no-code app (notebooks/app.ipynb), shared by `make app` and the
# browser tests: `voila --Voila.config_file_paths=app ...` with JUPYTER_PATH=app (for the
# template). Flags given on the command line (ip, port, token) override these.
c = get_config()  # noqa: F821

# The page template: Voila's lab template without CDN stylesheets (app/voila/templates/storynb).
# A visitor cannot pick another template with ?template=... (the lab one asks a CDN).
c.VoilaConfiguration.template = "storynb"
c.VoilaConfiguration.allow_template_override = "NO"
c.VoilaConfiguration.show_tracebacks = False
c.VoilaConfiguration.strip_sources = True

# Idle kernels are culled after 15 minutes. This no longer ends runs: a run started from the
# page is carried out by the studio's local worker process, not by the page's kernel.
c.MappingKernelManager.cull_interval = 60
c.MappingKernelManager.cull_idle_timeout = 900

# A project bundle (up to 2 GB) can be uploaded for import through the websocket.
c.Voila.tornado_settings = {"websocket_max_message_size": 2147483648}
