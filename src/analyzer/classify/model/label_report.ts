import { type ClassificationReport, classificationReport } from "./classification_report.ts";

/**
 * Scores predicted label names against true ones over `classes` (a file's declared classes):
 * a prediction outside them (`unknown`, or a VPN-* twin of a non-VPN row) is a miss for the
 * true class and counts for no class, so macro-F1 averages the file's classes only.
 */
export function labelReport(
  truth: readonly string[],
  predicted: readonly string[],
  classes: readonly string[],
): ClassificationReport {
  const other = classes.length;
  const index = (name: string) => {
    const at = classes.indexOf(name);
    return at < 0 ? other : at;
  };
  const t = Int32Array.from(truth, index);
  if (t.some((v) => v === other)) {
    const stray = truth.find((name) => !classes.includes(name));
    throw new RangeError(`Cannot score: true label "${stray}" is not one of the classes`);
  }
  const report = classificationReport(t, Int32Array.from(predicted, index), [
    ...classes,
    "(other)",
  ]);
  const perClass = { ...report.per_class };
  delete perClass["(other)"];
  const f1 = Object.values(perClass).map((s) => s.f1);
  return {
    accuracy: report.accuracy,
    macro_f1: f1.length > 0 ? f1.reduce((a, b) => a + b, 0) / f1.length : 0,
    per_class: perClass,
  };
}
