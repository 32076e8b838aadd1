// A chart: ECharts (canvas renderer) loaded on first use, resized with its box. The option
// is ECharts' own; `label` names the chart for assistive technology.
import { useEffect, useRef } from 'react';
import type { EChartsCoreOption, EChartsType } from 'echarts/core';

export type ChartOption = EChartsCoreOption;

export function Chart({ option, height = 280, label }: { option: ChartOption; height?: number; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<EChartsType | null>(null);
  const latest = useRef(option);
  latest.current = option;

  useEffect(() => {
    let disposed = false;
    let observer: ResizeObserver | null = null;
    void import('./echarts').then(({ echarts }) => {
      if (disposed || !box.current) return;
      const instance = echarts.init(box.current, undefined, { renderer: 'canvas' });
      chart.current = instance;
      instance.setOption({ aria: { enabled: true }, animation: false, ...latest.current }, true);
      observer = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(() => instance.resize()) : null;
      observer?.observe(box.current);
    });
    return () => {
      disposed = true;
      observer?.disconnect();
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption({ aria: { enabled: true }, animation: false, ...option }, true);
  }, [option]);

  // ECharts writes its own description into the chart's aria-label; the figure names it
  return (
    <div role="figure" aria-label={label} className="chart">
      <div ref={box} style={{ height, width: '100%' }} />
    </div>
  );
}

/** The console's palette: blue for volume, warm colours for risk. */
export const PALETTE = ['#1d39c4', '#fa8c16', '#f5222d', '#13c2c2', '#722ed1', '#52c41a', '#faad14', '#8c8c8c'];
