// The dashboard's charts on ECharts, drawn from the JSON each chart's element carries
// (web/dashboard/templates/dashboard/_charts.html). The server's SVG stays in the page
// for printing and for browsers without scripts; CSS shows one or the other.
import * as echarts from 'echarts/core';
import { BarChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent, ToolboxComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([BarChart, GridComponent, LegendComponent, TooltipComponent, ToolboxComponent, SVGRenderer]);

const ROW = 30; // px a bar (or a group of bars), enough for a label on two lines

function option(spec) {
  const labels = spec.items.map((item) => item.label);
  return {
    animation: false,
    // containLabel: the category labels are measured into the grid, never cut at its edge
    grid: { left: 8, right: 48, top: spec.series.length > 1 ? 32 : 8, bottom: 8, containLabel: true },
    legend: spec.series.length > 1 ? { top: 0, data: spec.series.map((s) => s.name) } : undefined,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true },
    toolbox: { right: 0, top: 0, feature: { saveAsImage: { title: spec.save, name: spec.id } } },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: {
      type: 'category', data: labels, inverse: true, triggerEvent: true,
      axisLabel: { width: 220, overflow: 'break', interval: 0 },
    },
    series: spec.series.map((s) => ({
      name: s.name, type: 'bar', data: spec.items.map((item) => item[s.key]), itemStyle: { color: s.colour },
      label: { show: true, position: 'right' }, cursor: 'pointer', barMaxWidth: 22,
    })),
  };
}

for (const el of document.querySelectorAll('[data-chart]')) {
  const spec = JSON.parse(el.dataset.chart);
  if (!spec.items.length) continue;
  el.style.height = `${spec.items.length * ROW * Math.max(1, spec.series.length * 0.7) + 48}px`;
  el.hidden = false;
  const chart = echarts.init(el, null, { renderer: 'svg' });
  chart.setOption(option(spec));
  // a click on a bar, or on its label, opens the list behind it
  chart.on('click', (params) => {
    const index = params.componentType === 'yAxis'
      ? spec.items.findIndex((item) => item.label === params.value) : params.dataIndex;
    const href = spec.items[index]?.href;
    if (href) window.location.assign(href);
  });
  new ResizeObserver(() => chart.resize()).observe(el);
  el.closest('figure')?.classList.add('live');
}
