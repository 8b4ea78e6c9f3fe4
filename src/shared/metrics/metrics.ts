/** Labels of one series. */
export type Labels = Record<string, string | number>;

interface Family {
  help: string;
  type: "counter" | "gauge";
  series: Map<string, { labels: Labels; value: number }>;
}

interface HistogramSeries {
  labels: Labels;
  /** Observations at or below each bucket's bound (cumulative, as Prometheus wants). */
  counts: number[];
  sum: number;
  count: number;
}

function key(labels: Labels): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
}

function escape(value: string | number): string {
  return String(value).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/**
 * A small metrics registry rendered as Prometheus text (exposition format 0.0.4). Counters are
 * plain numbers in Maps: cheap enough for per-record increments.
 */
export class Metrics {
  #families = new Map<string, Family>();
  #collectors: (() => void)[] = [];
  #texts: (() => string)[] = [];
  #histograms = new Map<
    string,
    { help: string; buckets: readonly number[]; series: Map<string, HistogramSeries> }
  >();

  /** Declares a family; repeated declarations return the same one. */
  #family(name: string, help: string, type: Family["type"]): Family {
    let family = this.#families.get(name);
    if (!family) {
      family = { help, type, series: new Map() };
      this.#families.set(name, family);
    }
    return family;
  }

  /**
   * A handle on one counter series, for hot paths: `inc()` on it is a field update, where
   * {@linkcode Metrics.inc} builds the series key on every call.
   */
  counter(name: string, help: string, labels: Labels = {}): { value: number } {
    const family = this.#family(name, help, "counter");
    const k = key(labels);
    let series = family.series.get(k);
    if (!series) {
      series = { labels, value: 0 };
      family.series.set(k, series);
    }
    return series;
  }

  /** Adds `by` to a counter. */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const family = this.#family(name, help, "counter");
    const k = key(labels);
    const series = family.series.get(k);
    if (series) series.value += by;
    else family.series.set(k, { labels, value: by });
  }

  /** Sets a gauge. */
  set(name: string, help: string, labels: Labels, value: number): void {
    const family = this.#family(name, help, "gauge");
    family.series.set(key(labels), { labels, value });
  }

  /** Current value of a series (0 when absent). */
  get(name: string, labels: Labels = {}): number {
    return this.#families.get(name)?.series.get(key(labels))?.value ?? 0;
  }

  /**
   * Removes one series (counter, gauge or histogram) so it is no longer rendered, e.g. the
   * per-domain series of a domain the sensor forgot; a later update starts it again from 0.
   * Handles taken with {@linkcode Metrics.counter} before stay detached. Returns whether a
   * series was removed.
   */
  remove(name: string, labels: Labels = {}): boolean {
    const k = key(labels);
    const family = this.#families.get(name);
    if (family?.series.delete(k)) return true;
    return this.#histograms.get(name)?.series.delete(k) ?? false;
  }

  /**
   * Records one observation in a histogram (`buckets`: upper bounds, ascending; +Inf is
   * implied). The first call for a name fixes its buckets.
   */
  observe(
    name: string,
    help: string,
    labels: Labels,
    value: number,
    buckets: readonly number[],
  ): void {
    let family = this.#histograms.get(name);
    if (!family) {
      family = { help, buckets, series: new Map() };
      this.#histograms.set(name, family);
    }
    const k = key(labels);
    let series = family.series.get(k);
    if (!series) {
      series = { labels, counts: new Array(family.buckets.length).fill(0), sum: 0, count: 0 };
      family.series.set(k, series);
    }
    for (let i = 0; i < family.buckets.length; i++) {
      if (value <= family.buckets[i]!) series.counts[i]!++;
    }
    series.sum += value;
    series.count++;
  }

  /** Registers a function run before each render, to refresh gauges from live state. */
  collect(collector: () => void): void {
    this.#collectors.push(collector);
  }

  /** Registers a function whose Prometheus text is appended to every render (statstore). */
  append(text: () => string): void {
    this.#texts.push(text);
  }

  /** Prometheus text exposition. */
  render(): string {
    for (const collector of this.#collectors) collector();
    const lines: string[] = [];
    for (const [name, family] of [...this.#families].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      for (const { labels, value } of family.series.values()) {
        const text = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(",");
        lines.push(`${name}${text ? `{${text}}` : ""} ${value}`);
      }
    }
    for (const [name, family] of [...this.#histograms].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} histogram`);
      for (const s of family.series.values()) {
        const text = Object.entries(s.labels).map(([k, v]) => `${k}="${escape(v)}",`).join("");
        family.buckets.forEach((le, i) => {
          lines.push(`${name}_bucket{${text}le="${le}"} ${s.counts[i]}`);
        });
        lines.push(`${name}_bucket{${text}le="+Inf"} ${s.count}`);
        const plain = text.slice(0, -1);
        lines.push(`${name}_sum${plain ? `{${plain}}` : ""} ${s.sum}`);
        lines.push(`${name}_count${plain ? `{${plain}}` : ""} ${s.count}`);
      }
    }
    let out = lines.join("\n") + "\n";
    for (const text of this.#texts) out += text();
    return out;
  }
}
