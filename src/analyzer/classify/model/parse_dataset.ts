import { featureNames } from "./feature_names.ts";

/** A labelled table of ISCX time features, row-major. */
export interface Dataset {
  /** Where the rows came from (a path or a name), for messages. */
  source: string;
  /** Class names; `y` holds indices into this list. */
  classes: string[];
  /** Row-major features, `rows × featureNames.length`, in the ISCX column order. */
  x: Float64Array;
  /** Class index per row. */
  y: Int32Array;
  /** Number of rows. */
  rows: number;
}

/** Column-name spellings accepted for the ISCX columns (the seed table writes flat/blat/flowlat). */
function canonicalName(name: string): string {
  return name.trim().replace(/^"|"$/g, "").replace(/flat$/, "fiat").replace(/blat$/, "biat")
    .replace(/flowlat$/, "flowiat");
}

const labelNames = new Set(["class", "class1", "label", "labels", "traffic_class"]);

function parseNumber(field: string, source: string, line: number, column: number): number {
  const text = field.trim();
  if (text === "?" || text === "" || text.toLowerCase() === "nan") return Number.NaN;
  const value = Number(text);
  if (Number.isNaN(value)) {
    throw new SyntaxError(
      `Cannot parse ${source}:${line}: column ${column + 1} is "${text}", not a number`,
    );
  }
  return value;
}

/** Splits a line on commas and drops the empty trailing fields the published ARFF files carry. */
function splitFields(line: string): string[] {
  const fields = line.split(",");
  while (fields.length > 0 && fields[fields.length - 1]!.trim() === "") fields.pop();
  return fields;
}

interface Layout {
  /** For each ISCX feature, the column index in the file. */
  featureColumns: number[];
  labelColumn: number;
}

function layoutFromNames(names: string[], source: string): Layout {
  const canonical = names.map(canonicalName);
  const featureColumns = featureNames.map((feature) => {
    const at = canonical.indexOf(feature);
    if (at < 0) {
      throw new TypeError(`Cannot load ${source}: column "${feature}" is missing`);
    }
    return at;
  });
  let labelColumn = canonical.findIndex((name) => labelNames.has(name.toLowerCase()));
  if (labelColumn < 0) labelColumn = names.length - 1;
  if (featureColumns.includes(labelColumn)) {
    throw new TypeError(`Cannot load ${source}: no class column after the features`);
  }
  return { featureColumns, labelColumn };
}

/**
 * Parses an ISCX time-feature table from ARFF (as published, header lines with trailing commas)
 * or CSV (header row naming the columns, class in a `class`/`label` column or the last one).
 * Columns are mapped by name, so extra columns are ignored.
 */
export function parseDataset(text: string, source = "dataset"): Dataset {
  const lines = text.split(/\r?\n/);
  const isArff = lines.some((line) => /^\s*@(relation|attribute|data)\b/i.test(line));
  let layout: Layout | undefined;
  let declared: string[] | undefined;
  let dataStart = 0;
  if (isArff) {
    const names: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      const attribute = /^@attribute\s+('[^']*'|"[^"]*"|\S+)\s+(.*)$/i.exec(line);
      if (attribute) {
        names.push(attribute[1]!.replace(/^['"]|['"]$/g, ""));
        const domain = /^\{([^}]*)\}/.exec(attribute[2]!.trim());
        if (domain) declared = domain[1]!.split(",").map((c) => c.trim()).filter((c) => c !== "");
        continue;
      }
      if (/^@data\b/i.test(line)) {
        dataStart = i + 1;
        break;
      }
    }
    if (dataStart === 0) throw new SyntaxError(`Cannot load ${source}: ARFF has no @DATA line`);
    layout = layoutFromNames(names, source);
  } else {
    const header = lines.findIndex((line) => splitFields(line).length > 0);
    if (header < 0) throw new SyntaxError(`Cannot load ${source}: file is empty`);
    const fields = splitFields(lines[header]!);
    if (fields.every((field) => Number.isNaN(Number(field)) || field.trim() === "")) {
      layout = layoutFromNames(fields, source);
      dataStart = header + 1;
    } else {
      // No header row: the ISCX column order, class last.
      layout = { featureColumns: featureNames.map((_, i) => i), labelColumn: featureNames.length };
      dataStart = header;
    }
  }
  const width = featureNames.length;
  const values: number[] = [];
  const labels: string[] = [];
  for (let i = dataStart; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("%") || trimmed.startsWith("#")) continue;
    const fields = splitFields(line);
    if (fields.length === 0) continue;
    // A row without a label (e.g. an analyzer flow no one labelled) cannot train or score.
    if (fields.length === layout.labelColumn || fields[layout.labelColumn]?.trim() === "") continue;
    if (fields.length < layout.labelColumn) {
      throw new SyntaxError(
        `Cannot parse ${source}:${i + 1}: ${fields.length} fields, class is column ${
          layout.labelColumn + 1
        }`,
      );
    }
    for (const column of layout.featureColumns) {
      values.push(parseNumber(fields[column]!, source, i + 1, column));
    }
    labels.push(fields[layout.labelColumn]!.trim().replace(/^['"]|['"]$/g, ""));
  }
  const classes = declared ? [...declared] : [...new Set(labels)].sort();
  const index = new Map(classes.map((name, i) => [name, i]));
  const y = new Int32Array(labels.length);
  labels.forEach((label, row) => {
    let at = index.get(label);
    if (at === undefined) {
      at = classes.length;
      classes.push(label);
      index.set(label, at);
    }
    y[row] = at;
  });
  const x = new Float64Array(values);
  if (x.length !== labels.length * width) {
    throw new RangeError(`Cannot load ${source}: feature count does not match row count`);
  }
  return { source, classes, x, y, rows: labels.length };
}
