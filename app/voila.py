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

# A kernel no page is connected to (a request that went away before the page loaded, a page
# whose shutdown request was lost) is culled after 2 idle minutes; kernels with a page open are
# kept (cull_connected stays False) and the preheated pool is never culled. Culling no longer
# ends runs: a run started from the page is carried out by the studio's local worker process.
c.MappingKernelManager.cull_interval = 30
c.MappingKernelManager.cull_idle_timeout = 120
c.MappingKernelManager.cull_connected = False

# A project bundle (up to 2 GB) can be uploaded for import through the websocket.
c.Voila.tornado_settings = {"websocket_max_message_size": 2147483648}

# Kernels: a few are started ahead (preheated: the app is already built when a page asks), and
# no more than max_kernels are alive at once; past that a page says "busy, try again"
# (storynb/widgets/kernels.py). Each kernel takes about 130 MB.
c.VoilaConfiguration.multi_kernel_manager_class = "storynb.widgets.kernels.CappedKernelManager"
c.VoilaConfiguration.preheat_kernel = True
c.VoilaConfiguration.default_pool_size = 2
# A pool kernel runs the notebook up to `start.app()` (notebooks/app.ipynb) and waits there for
# a page; the page's request then gives it the browser's language (Accept-Language, passed to
# the kernel as $HTTP_ACCEPT_LANGUAGE). A kernel given to a page that no page connects to within
# 30 idle seconds (a request that went away) is shut down (storynb/widgets/kernels.py).
c.VoilaConfiguration.http_header_envs = ["Accept-Language"]
c.CappedKernelManager.connect_timeout = 30.0

# On a busy machine the app's cell can take longer than nbclient's default 4 s to send its
# output; past that Voila drops the output and the page stays empty. Wait for it.
c.VoilaExecutor.iopub_timeout = 60

# The page loads the frontend of every installed JupyterLab extension before it starts the
# widgets; pygments (code highlighting) is installed with Jupyter but not used by the app
# (bqplot is: the storyboard grid, ipydatagrid, shares its scales).
c.VoilaConfiguration.extension_denylist = ["jupyterlab_pygments"]
