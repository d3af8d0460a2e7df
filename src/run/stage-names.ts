// The pipeline order, written once. It lives apart from the stage registry
// (src/stages/registry.ts, which describes each stage and loads its code) so that the config
// (run.stages) can name the stages without importing stage code. classify comes before eval
// because eval's `dfd` measures distances in the trained classifier's feature space.
export const stageNames = [
  'synth',
  'caption',
  'train-visual',
  'align-text',
  'finetune-dit',
  'generate',
  'classify',
  'eval'
] as const
export type StageName = (typeof stageNames)[number]
