import { metricDefinitions, type MetricName, type MetricsRegistry } from '../base/metrics.js';

/**
 * The Prometheus text exposition format (version 0.0.4): `# HELP`, `# TYPE`, then one sample per
 * series. Label values escape backslash, double quote and newline; help text escapes backslash
 * and newline.
 */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export interface ExpositionOptions {
  /** Fluent Bit's v1 endpoint appends a millisecond timestamp to each sample; v2 does not. */
  timestampMs?: number;
  /** Extra gauges that are not kept in the registry (uptime, build info). */
  extra?: Array<{ name: string; help: string; type: 'gauge' | 'counter'; labels?: Record<string, string>; value: number }>;
}

export function renderPrometheus(metrics: MetricsRegistry, options: ExpositionOptions = {}): string {
  const byMetric = new Map<MetricName, Array<{ instance: string; value: number }>>();
  for (const row of metrics.snapshot()) {
    const rows = byMetric.get(row.metric) ?? [];
    rows.push({ instance: row.instance, value: row.value });
    byMetric.set(row.metric, rows);
  }
  const suffix = options.timestampMs === undefined ? '' : ` ${options.timestampMs}`;
  const lines: string[] = [];
  for (const extra of options.extra ?? []) {
    const labels = Object.entries(extra.labels ?? {}).map(([key, value]) => `${key}="${escapeLabel(value)}"`);
    lines.push(`# HELP ${extra.name} ${escapeHelp(extra.help)}`, `# TYPE ${extra.name} ${extra.type}`);
    lines.push(`${extra.name}${labels.length > 0 ? `{${labels.join(',')}}` : ''} ${extra.value}${suffix}`);
  }
  for (const name of Object.keys(metricDefinitions) as MetricName[]) {
    const rows = byMetric.get(name);
    if (rows === undefined) continue;
    const definition = metricDefinitions[name];
    lines.push(`# HELP ${name} ${escapeHelp(definition.help)}`, `# TYPE ${name} ${definition.kind}`);
    for (const row of rows.sort((a, b) => a.instance.localeCompare(b.instance))) {
      lines.push(`${name}{name="${escapeLabel(row.instance)}"} ${row.value}${suffix}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Fluent Bit's `/api/v1/metrics` JSON: counters grouped by plugin kind and instance. */
export function renderMetricsJson(metrics: MetricsRegistry): Record<'input' | 'filter' | 'output', Record<string, Record<string, number>>> {
  const result: Record<'input' | 'filter' | 'output', Record<string, Record<string, number>>> = { input: {}, filter: {}, output: {} };
  for (const { metric, instance, value } of metrics.snapshot()) {
    const match = /^(?:fluentbit|wsbit)_(input|filter|output)_(.+?)(?:_total)?$/.exec(metric);
    if (match === null) continue;
    const kind = match[1] as 'input' | 'filter' | 'output';
    const field = match[2] as string;
    const group = (result[kind][instance] ??= {});
    group[field] = value;
  }
  return result;
}
