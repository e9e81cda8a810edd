"""The app at a phone's width (issue 10): at 390×844 no section scrolls sideways and no field is
cut at the right by the box it sits in; the tabs become
one select, the guided flow's form and run bar fit the screen. Screenshots of every section:
tests/browser/screenshots/phone-*.png (the guided flow's steps: test_app_flow.py)."""
import time

TABS = ["Make", "Projects", "Story", "Shots", "Characters", "Pictures", "Camera", "Clips", "Video",
        "Prompts", "Prompt lab", "Models", "Batch"]
OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [];
  for (const e of document.querySelectorAll('.storynb-app *')) {
    const box = e.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (e.closest('.lm-DataGrid, .storynb-pre, .storynb-table, .lm-TabBar')) continue;  // scroll inside
    if (box.right > width + 1) wide.push(`${e.tagName}.${[...e.classList].join('.')} → ${Math.round(box.right)}`);
  }
  // a field, list or button cut at the right by the box it sits in (its border or arrow hidden)
  const cut = [];
  for (const e of document.querySelectorAll('.storynb-app select, .storynb-app input, .storynb-app textarea, '
                                            + '.storynb-app button, .storynb-app .widget-inline-hbox')) {
    const box = e.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    let up = e.parentElement;
    while (up && getComputedStyle(up).overflowX === 'visible') up = up.parentElement;
    if (up && box.right > up.getBoundingClientRect().right + 0.5)
      cut.push(`${e.tagName}.${[...e.classList].join('.')} by ${(box.right - up.getBoundingClientRect().right).toFixed(1)} px`);
  }
  return {page: document.scrollingElement.scrollWidth, width, wide: wide.slice(0, 8), cut: cut.slice(0, 8)};
}"""


def test_every_tab_fits_a_phone(browser, voila_url, browser_studio, screenshot):
    project = browser_studio.create_project("A small robot waters the city's last garden",
                                            name="Phone", size=(180, 320), fps=12, shots=4, seed=2)
    assert project.run().status == "done"
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    blocked = []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(voila_url)
               else (blocked.append(r.request.url), r.abort()))
    page.goto(voila_url, wait_until="domcontentloaded", timeout=120_000)  # a busy machine
    page.locator(".storynb-runbar-project").wait_for(timeout=90_000)
    try:
        page.locator(".storynb-runbar-project", has_text="Phone").wait_for(timeout=30_000)
    finally:
        screenshot(page, "phone-00-opened")
    results = {}
    assert not page.get_by_role("tab", name="Projects").is_visible()  # no row of cut-off tabs
    for number, tab in enumerate(TABS, 1):
        page.locator(".storynb-section select").select_option(label=tab)
        time.sleep(0.8)
        results[tab] = page.evaluate(OVERFLOW)
        screenshot(page, f"phone-{number:02d}-{tab.lower().replace(' ', '-')}")
    bad = {tab: r for tab, r in results.items() if r["page"] > r["width"] or r["wide"] or r["cut"]}
    assert not bad, bad
    assert not blocked, blocked
    context.close()
