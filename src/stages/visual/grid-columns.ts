// The columns of visual/grid.png, left to right: writeGrid draws them in this order and
// report.html labels the figure with these names (the PNG itself carries no text).
export const visualGridColumns = [
  'input',
  'anatomy channels (one colour each)',
  'predicted lesion mask',
  'reconstruction',
  "reconstruction with the next row's style"
] as const
