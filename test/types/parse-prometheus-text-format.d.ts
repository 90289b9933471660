// The package ships no typings; this is the shape its README documents (prom2json's).
declare module 'parse-prometheus-text-format' {
  interface ParsedMetric {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'HISTOGRAM' | 'UNTYPED';
    metrics: Array<{ labels?: Record<string, string>; value: string; timestamp_ms?: string }>;
  }
  export default function parsePrometheusTextFormat(text: string): ParsedMetric[];
}
