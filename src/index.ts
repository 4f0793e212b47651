/**
 * featshift's library entry: everything the CLI does, as typed functions.
 * @packageDocumentation
 */
export { UsageError } from './errors.js';
export { classifierWidth, convsPerDeepBlock, vggBaseWidths } from './models/vgg-base.js';
export {
  baselineArchitecture,
  binnedDensity,
  featureBudget,
  referenceCapacity,
  skewNormalFamily,
  skewNormalPdf,
  type Architecture,
  type FamilyOptions,
  type GridRange,
} from './family/skew-normal.js';
export { erf, exp } from './family/precise-math.js';
export {
  linearFamily,
  linearWidths,
  LINEAR_DEFAULTS,
  type LinearOptions,
} from './family/linear.js';
export {
  costOf,
  holdCost,
  HOLDS,
  HOLD_TOLERANCE,
  type Hold,
  type HeldCost,
  type HoldOptions,
} from './family/hold.js';
export {
  familyMembers,
  FAMILY_KINDS,
  type FamilyKind,
  type MemberOptions,
} from './family/members.js';
export {
  countMacs,
  countParams,
  vggPlan,
  type ConvLayerSpec,
  type LinearLayerSpec,
  type VggPlan,
  type VggPlanOptions,
} from './models/vgg-plan.js';
/** @deprecated 0.1's name of {@link vggPlan}, before "layout" meant the memory layout alone. */
export { vggPlan as vggLayout, type VggPlan as VggLayout } from './models/vgg-plan.js';
export * as engine from './engine/index.js';
export { Vgg, type VggOptions, type NamedTensor } from './models/vgg.js';
export { INIT_SCHEMES, initWeight, type InitScheme } from './models/init.js';
export { saveCheckpoint, loadCheckpoint, type Checkpoint } from './models/checkpoint.js';
export { Sgd, type SgdOptions } from './train/sgd.js';
export { loadDataset, requireDatasetSpec, type Dataset } from './data/dataset.js';
export {
  loadImageFolders,
  IMAGE_FOLDER_STATS,
  type ImageFolderDataset,
  type FolderFiles,
} from './data/image-folder.js';
export { ImageFolderLoader, type ImageFolderLoaderOptions } from './data/image-folder-loader.js';
export { BatchLoader, type Batch, type LoaderOptions } from './data/loader.js';
export { ParallelBatchLoader } from './data/parallel-loader.js';
export {
  DATASETS,
  DATASET_NAMES,
  datasetSpec,
  type DatasetName,
  type DatasetSpec,
} from './data/registry.js';
export { cacheDir, inspectDataset, locateDataset, type SourceOptions } from './data/sources.js';
export { DataError } from './data/errors.js';
export type { ImageSet } from './data/image-set.js';
export { WarmRestartSchedule, type WarmRestartOptions } from './train/schedule.js';
export {
  trainModel,
  TrainingStopped,
  type TrainOptions,
  type TrainingEvents,
  type TrainingConfig,
  type TrainingOutcome,
  type EpochStats,
} from './train/trainer.js';
export { type TrainingRecipe } from './train/recipe.js';
export { trainStep, evalStep } from './train/step.js';
export {
  chooseMicroBatch,
  planMicroBatch,
  MemoryBudgetError,
  referenceMemoryEstimate,
  type MicroBatchChoice,
  type MicroBatchPolicy,
} from './train/memory.js';
export { runSweep, type SweepRequest, type SweepReporter } from './sweep/sweep.js';
export type { RuntimeConfig } from './sweep/config.js';
export {
  REFERENCE_DEFAULTS,
  embeddedDefaultStudy,
  locationSample,
  resolveSeeds,
  studySeeds,
  selectArchitectures,
  familyOptions,
  type StudyConfig,
} from './run/study.js';
export { readResults, referenceCsv, type ResultRecord } from './run/results.js';
export * as runFiles from './run/files.js';
export { loadStudy, type LoadedStudy, type RunResult } from './run/load.js';
/** @deprecated 0.1's name of {@link loadStudy}. */
export { loadStudy as loadRun, type LoadedStudy as LoadedRun } from './run/load.js';
export { runUnits, type RunUnit } from './run/units.js';
export {
  tInterval,
  welchInterval,
  bootstrapGroup,
  bootstrapDifference,
  groupMean,
  groupMeanDifference,
  type Interval,
  type Estimate,
} from './analysis/stats.js';
export {
  architectureStats,
  topVerdict,
  type ArchitectureStats,
  type TopVerdict,
} from './analysis/architectures.js';
export { analyzeStudy, type StudyAnalysis, type GroupSummary } from './analysis/study-analysis.js';
export { formatAnalysis } from './analysis/format.js';
export { reportHtml, reportData, type ReportData } from './report/html.js';
export { serveReport, type ViewServer } from './report/server.js';
export { exportFigures } from './report/export.js';
export { runDistributedSweep, type QueueOptions } from './sweep/distributed/coordinator.js';
export { startWorkers, type WorkerOptions } from './sweep/distributed/worker.js';
export { queueStatus } from './sweep/distributed/status.js';
export { parseRedisUrl, redactRedisUrl } from './sweep/distributed/redis-url.js';
export { probeRedis, QueueUnreachableError } from './sweep/distributed/redis-probe.js';
