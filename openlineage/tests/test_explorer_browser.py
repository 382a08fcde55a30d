"""The explorer in a real headless browser (Debian's chromium driven by Selenium), on both backends.

The instance is filled by the repository's Snakemake, Prefect and Nextflow examples, each run as a user runs
it (`examples/*/... --current`, its own process), plus the tutorial's Python API artifacts; then `lamin serve
--token` serves it and the browser walks: login, home, search, an artifact, its lineage graph, the run that
made it (clicked in the graph), that run's transform, a pipeline expanded in the graph, logout; and the pages
with JavaScript off (the graph falls back to Graphviz's SVG). Every page is kept as a screenshot under
`test-output/explorer/<backend>/` (git-ignored) to be looked at.
"""

from __future__ import annotations

import shutil
import sys
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from explorer_fill import python_api_artifacts, run_examples  # noqa: E402
from ol_helpers import lamin_serve  # noqa: E402

TOKEN = "browser-token-7"
REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output" / "explorer"
WAIT = 30  # seconds a page may take to appear on a loaded 2-core machine: a readiness wait, not a timing check
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")



def _driver(javascript: bool = True) -> Any:
    if CHROMIUM is None or CHROMEDRIVER is None:  # required, never skipped: `make test` installs them (scripts/system-deps.sh)
        pytest.fail("the explorer's browser tests need Debian's chromium and chromium-driver:"
                    " apt-get install -y chromium chromium-driver (make test does it as root)", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000", "--disable-gpu"):
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))  # type: ignore[arg-type]
    driver.set_page_load_timeout(WAIT * 2)
    return driver


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prefect-home")  # one Prefect database for both backends: its first start is slow


@pytest.fixture
def filled(instance: Any, tmp_path: Path, prefect_home: Path) -> dict[str, Any]:
    made = python_api_artifacts()
    run_examples(instance.env, tmp_path / "work", prefect_home)
    return made


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = _driver()
    yield driver
    driver.quit()


class Shots:
    """Numbered screenshots of one test's pages."""

    def __init__(self, driver: Any, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.driver, self.folder, self.n = driver, folder, 0

    def __call__(self, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path


def _wait(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def _wait_graph(driver: Any) -> list[Any]:
    """The graph's nodes once the script has drawn them (its note then counts them)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(lambda d: "nodes," in d.find_element(By.CSS_SELECTOR, ".graph-note").text)
    return driver.find_elements(By.CSS_SELECTOR, "svg.graph a.node")  # type: ignore[no-any-return]


def test_browse_search_artifact_lineage_run_transform_login_logout(instance: Any, filled: dict[str, Any], browser: Any) -> None:
    import lamin_core as ln
    from selenium.webdriver.common.by import By

    summary = ln.Artifact.get(key="results/summary.txt")  # the Snakemake example's final output
    made_by = summary.run
    shot = Shots(browser, OUTPUT / instance.backend / "flow")
    with lamin_serve(instance.env, "--token", TOKEN) as server:
        b = browser
        b.get(server.base + "/")
        _wait(b, "form.login")
        assert urllib.parse.urlparse(b.current_url).path == "/ui/login"  # no token yet: the form, not a 401
        shot("login")
        b.find_element(By.ID, "token").send_keys("wrong")
        b.find_element(By.ID, "login").click()
        _wait(b, "#login-error")
        shot("login-wrong-token")
        b.find_element(By.ID, "token").send_keys(TOKEN)
        b.find_element(By.ID, "login").click()
        _wait(b, "section#artifacts")
        assert "Latest artifacts" in b.page_source and "Latest runs" in b.page_source
        assert b.get_cookie("lamin_token")["httpOnly"] is True  # scripts on the page cannot read the token
        shot("home")

        box = b.find_element(By.ID, "q")
        box.send_keys("summary")
        b.find_element(By.ID, "search").click()
        _wait(b, "a.result")
        results = [a.text for a in b.find_elements(By.CSS_SELECTOR, "section#artifacts a.result")]
        assert "results/summary.txt" in results and "prefect-example/summary.parquet" in results
        shot("search")

        b.find_element(By.XPATH, "//section[@id='artifacts']//a[text()='results/summary.txt']").click()
        _wait(b, "#made-by")
        assert summary.uid in b.title or summary.uid in b.page_source
        assert summary.hash in b.page_source
        nodes = _wait_graph(b)
        assert len(nodes) > 5
        shot("artifact")

        b.find_element(By.ID, "open-lineage").click()
        nodes = _wait_graph(b)
        focus = b.find_elements(By.CSS_SELECTOR, f"svg.graph a.node.focus[data-uid='{summary.uid}']")
        assert focus, "the focus artifact is drawn and marked"
        shot("lineage")
        run_node = b.find_element(By.CSS_SELECTOR, f"svg.graph a.node.run[data-uid='{made_by.uid}']")
        b.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}))", run_node)
        _wait(b, "#transform-link")
        assert urllib.parse.urlparse(b.current_url).path == f"/ui/run/{made_by.uid}"
        assert "Outputs (1)" in b.page_source and summary.uid in b.page_source and "snakemake" in b.page_source
        shot("run")

        b.find_element(By.ID, "transform-link").click()
        _wait(b, "h1")
        assert urllib.parse.urlparse(b.current_url).path == f"/ui/transform/{made_by.transform.uid}"
        assert made_by.uid in b.page_source
        shot("transform")

        # a downstream graph from a raw input folds the Snakemake workflow into one node; its (+) expands it
        sample = ln.Artifact.filter(key__endswith="data/sample_A.csv").first()
        b.get(f"{server.base}/ui/lineage/artifact/{sample.uid}?direction=down&depth=5")
        folded = _wait_graph(b)
        badge = b.find_element(By.CSS_SELECTOR, "svg.graph g.expand")
        shot("lineage-folded")
        b.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", badge)
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(b, WAIT).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg.graph a.node")) > len(folded))
        shot("lineage-expanded")

        # the tutorial's artifact: versions, features, labels, a preview
        fixed = filled["fixed"]
        b.get(f"{server.base}/ui/artifact/{fixed.uid}")
        _wait(b, "#preview")
        assert "temperature" in b.page_source and "explorer-demo" in b.page_source
        assert len(b.find_elements(By.CSS_SELECTOR, "#preview tbody tr")) == 3
        shot("artifact-features-preview")
        b.get(f"{server.base}/ui/artifact/{filled['h5ad'].uid}")
        _wait(b, "#preview")
        shot("artifact-anndata-obs")
        b.get(f"{server.base}/?kind=run&engine=nextflow")
        _wait(b, "section#runs")
        shot("home-filtered-nextflow-runs")
        assert "nextflow" in b.find_element(By.ID, "runs").text

        b.find_element(By.ID, "logout").click()
        _wait(b, "form.login")
        assert b.get_cookie("lamin_token") is None
        b.get(server.base + f"/ui/run/{made_by.uid}")
        _wait(b, "form.login")
        assert urllib.parse.urlparse(b.current_url).path == "/ui/login"
        shot("logged-out")


def test_pages_work_with_javascript_off(instance: Any, filled: dict[str, Any]) -> None:
    import lamin_core as ln
    from selenium.webdriver.common.by import By

    summary = ln.Artifact.get(key="results/summary.txt")
    driver = _driver(javascript=False)
    shot = Shots(driver, OUTPUT / instance.backend / "no-javascript")
    try:
        with lamin_serve(instance.env) as server:  # no token: open as the API is
            driver.get(server.base + "/")
            _wait(driver, "section#artifacts")
            driver.find_element(By.ID, "q").send_keys("summary")
            driver.find_element(By.ID, "search").click()  # a plain form: no script needed
            _wait(driver, "a.result")
            shot("search")
            driver.get(f"{server.base}/ui/artifact/{summary.uid}")
            svg = _wait(driver, "object.graph-svg")
            assert svg.is_displayed() and svg.size["height"] > 50  # Graphviz's picture stands in for the graph
            assert not driver.find_element(By.CSS_SELECTOR, ".graph-view").is_displayed()
            shot("artifact-graphviz")
            driver.get(f"{server.base}/ui/lineage/artifact/{summary.uid}?depth=1&direction=up")
            _wait(driver, "object.graph-svg")
            shot("lineage-graphviz")
    finally:
        driver.quit()
