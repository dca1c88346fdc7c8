"""The dashboard's charts in the browser: tooltips, labels whole, a click opens the list behind
a bar, a picture to save; on paper, the server's own drawing."""
from __future__ import annotations

from test_designations import deploy, list_unit, officials

from .session import sign_in


def test_the_province_explores_the_dashboard(page, live_server, runtime, screenshot):
    deploy(runtime)
    list_unit(runtime)
    officials()
    sign_in(page, live_server, "prov")
    page.goto(f"{live_server}/dashboard")
    chart = page.locator("#chart-type.live .echart svg")
    chart.wait_for()
    assert not page.locator("#chart-type .svg-chart").is_visible()  # the live chart stands in for the drawing

    # no label is cut: every text the charts draw lies inside its chart
    cut = page.evaluate("""() => [...document.querySelectorAll('figure.live .echart')].flatMap(el => {
        const box = el.getBoundingClientRect();
        return [...el.querySelectorAll('svg text')].filter(t => {
          const r = t.getBoundingClientRect();
          return r.width && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
                             || r.bottom > box.bottom + 1);
        }).map(t => `${el.closest('figure').id}: ${t.textContent}`);
      })""")
    assert cut == []
    screenshot(page, "dashboard")

    # a tooltip names the bar and its count
    bars = page.evaluate("""() => [...document.querySelectorAll("#chart-type .echart svg path[fill='#1f6f43']")]
        .map(p => p.getBoundingClientRect()).filter(r => r.width > 1).map(r => ({x: r.left + r.width / 2,
                                                                                  y: r.top + r.height / 2}))""")
    assert len(bars) == 1  # one type has a unit
    [bar] = bars
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)
    tooltip = page.locator("#chart-type .echart > div:not(:has(svg))", has_text="绿色工厂")
    tooltip.wait_for()
    assert tooltip.inner_text().split() == ["绿色工厂", "按类型", "1"]

    # the picture of a chart can be saved
    icon = page.evaluate("""() => {  // the toolbox's one icon, in the chart's top right corner
        const box = document.querySelector('#chart-type .echart').getBoundingClientRect();
        const [r] = [...document.querySelectorAll('#chart-type .echart svg path')].map(p => p.getBoundingClientRect())
          .filter(r => r.width && r.right > box.right - 40 && r.top < box.top + 40);
        return {x: r.left + r.width / 2, y: r.top + r.height / 2};
      }""")
    with page.expect_download() as saved:
        page.mouse.click(icon["x"], icon["y"])
    assert saved.value.suggested_filename.startswith("chart-type")

    # a click on the bar opens the units it counts
    page.mouse.click(bar["x"], bar["y"])
    page.wait_for_url("**/registry/?**unit_type=green_factory**")
    assert "兰州绿源制造有限公司" in page.inner_text("main")

    # on paper the server's drawing, not the live chart
    page.go_back()
    page.locator("#chart-type.live .echart svg").wait_for()
    page.emulate_media(media="print")
    assert page.locator("#chart-type .svg-chart").is_visible()
    assert not page.locator("#chart-type .echart").is_visible()
    assert page.errors == []
