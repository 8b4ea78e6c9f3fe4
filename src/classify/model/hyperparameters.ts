import type { BoostingOptions } from "./gradient_boosting.ts";

/**
 * The shipped algorithm's hyperparameters, chosen by 5-fold cross-validation on the training
 * files only (see scripts/train-model.ts). Rounds are fixed instead of early-stopped: stopping on
 * an inner split's log-loss cost 10 % of the rows and stopped before accuracy peaked.
 */
export const hyperparameters: Readonly<Required<Omit<BoostingOptions, "seed">>> = Object.freeze({
  rounds: 200,
  learningRate: 0.1,
  maxLeaves: 31,
  maxDepth: Infinity,
  minChildSamples: 10,
  minChildWeight: 1e-3,
  lambda: 1,
  featureFraction: 0.7,
  baggingFraction: 0.8,
  maxBins: 255,
  classWeight: "none",
  validationFraction: 0,
  earlyStoppingRounds: 30,
});
