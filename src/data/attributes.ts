// The attribute vocabulary of each dataset kind (paper §2.1: Anatomy = shape, border, symmetry,
// size; Style = colour distribution, texture) and the class rules synth draws labels from.
// It lives in data/ because the data (synth's ground truth, dataset kinds) is described in
// these words; captioning (src/caption) renders them as text, generate and eval read them.
//   attributeGroups[kind]   attribute name -> allowed values, in the paper's two groups
//   attributeNamesOf(kind)  every attribute name of a kind, anatomy first
//   classRules[kind]        class frequencies and per-class attribute weights
// Attribute objects are flat `Record<string, string>` (e.g. {shape: 'irregular', ...}).
// `unknown` marks an anatomy attribute that cannot be measured (no mask); `none` marks an
// absent lesion (BUSI `normal`) or an absent second colour.

export type DatasetKind = 'dermoscopy' | 'polyp' | 'ultrasound'
export type Attributes = Record<string, string>

export const UNKNOWN = 'unknown'
export const NONE = 'none'
export const datasetKinds: readonly DatasetKind[] = ['dermoscopy', 'polyp', 'ultrasound']

/** Attribute name -> allowed values, split into the paper's two groups. */
export interface AttributeGroups {
  anatomy: Record<string, readonly string[]>
  style: Record<string, readonly string[]>
}

const anatomyGroup = {
  shape: ['round', 'oval', 'irregular'],
  border: ['sharp', 'blurred'],
  symmetry: ['symmetric', 'asymmetric'],
  size: ['small', 'medium', 'large']
} as const

/** Ultrasound `normal` images have no lesion, so every anatomy attribute may be `none`. */
const withNone = (group: Record<string, readonly string[]>): Record<string, readonly string[]> =>
  Object.fromEntries(Object.entries(group).map(([k, v]) => [k, [...v, NONE]]))

export const attributeGroups: Record<DatasetKind, AttributeGroups> = {
  dermoscopy: {
    anatomy: anatomyGroup,
    style: {
      colour: ['light brown', 'dark brown', 'reddish', 'blue-grey'],
      secondaryColour: [NONE, 'light brown', 'dark brown', 'reddish', 'blue-grey'],
      texture: ['smooth', 'reticular', 'dotted-globular']
    }
  },
  polyp: {
    anatomy: anatomyGroup,
    style: {colour: ['pale pink', 'pink', 'red'], texture: ['smooth', 'granular']}
  },
  ultrasound: {
    anatomy: withNone(anatomyGroup),
    style: {colour: ['anechoic', 'hypoechoic', NONE], texture: ['low speckle', 'high speckle']}
  }
}

export function attributeNamesOf(kind: DatasetKind): string[] {
  const g = attributeGroups[kind]
  return [...Object.keys(g.anatomy), ...Object.keys(g.style)]
}

// ---------------------------------------------------------------------------------------
// Class rules: how synth draws a label and then its attributes. Each class has its dataset
// frequency and, per attribute, weights over values (missing values weigh 0). The rules
// follow the dermoscopy literature loosely (ABCD rule: melanoma is asymmetric, irregular,
// multi-coloured; naevi are round/oval, symmetric, brown; vascular lesions are red) and
// the BI-RADS reading of breast ultrasound (malignant: irregular, not circumscribed,
// hypoechoic). The weights are not 0/1, so a classifier must learn a distribution, and
// rare classes stay rare (HAM10000: nv 67%), which is what synthetic augmentation is for.
// ---------------------------------------------------------------------------------------

export type Weights = Record<string, number>
export interface ClassRule {
  frequency: number
  attributes: Record<string, Weights>
}

const brownish = {'light brown': 0.5, 'dark brown': 0.5}

export const classRules: Record<DatasetKind, Record<string, ClassRule>> = {
  // HAM10000 class counts: nv 6705, mel 1113, bkl 1099, bcc 514, akiec 327, vasc 142, df 115.
  dermoscopy: {
    akiec: {
      frequency: 327,
      attributes: {
        shape: {irregular: 0.5, oval: 0.4, round: 0.1},
        symmetry: {asymmetric: 0.5, symmetric: 0.5},
        border: {blurred: 0.7, sharp: 0.3},
        size: {small: 0.4, medium: 0.5, large: 0.1},
        colour: {'reddish': 0.8, 'light brown': 0.2},
        secondaryColour: {none: 0.5, 'light brown': 0.3, 'reddish': 0.2},
        texture: {'smooth': 0.7, 'dotted-globular': 0.3}
      }
    },
    bcc: {
      frequency: 514,
      attributes: {
        shape: {irregular: 0.5, oval: 0.3, round: 0.2},
        symmetry: {asymmetric: 0.6, symmetric: 0.4},
        border: {sharp: 0.6, blurred: 0.4},
        size: {small: 0.3, medium: 0.5, large: 0.2},
        colour: {'reddish': 0.7, 'light brown': 0.3},
        secondaryColour: {'blue-grey': 0.8, none: 0.2},
        texture: {'dotted-globular': 0.8, 'smooth': 0.2}
      }
    },
    bkl: {
      frequency: 1099,
      attributes: {
        shape: {oval: 0.5, irregular: 0.3, round: 0.2},
        symmetry: {symmetric: 0.6, asymmetric: 0.4},
        border: {sharp: 0.8, blurred: 0.2},
        size: {small: 0.1, medium: 0.5, large: 0.4},
        colour: {'light brown': 0.8, 'dark brown': 0.2},
        secondaryColour: {none: 0.8, 'dark brown': 0.2},
        texture: {'smooth': 0.5, 'dotted-globular': 0.4, 'reticular': 0.1}
      }
    },
    df: {
      frequency: 115,
      attributes: {
        shape: {round: 0.7, oval: 0.3},
        symmetry: {symmetric: 0.9, asymmetric: 0.1},
        border: {sharp: 0.7, blurred: 0.3},
        size: {small: 0.7, medium: 0.3},
        colour: {'light brown': 0.7, 'dark brown': 0.3},
        secondaryColour: {none: 0.6, 'reddish': 0.4},
        texture: {'reticular': 0.8, 'smooth': 0.2}
      }
    },
    mel: {
      frequency: 1113,
      attributes: {
        shape: {irregular: 0.85, oval: 0.15},
        symmetry: {asymmetric: 0.9, symmetric: 0.1},
        border: {blurred: 0.7, sharp: 0.3},
        size: {medium: 0.4, large: 0.6},
        colour: {'dark brown': 0.7, 'light brown': 0.3},
        secondaryColour: {'blue-grey': 0.6, 'reddish': 0.2, 'light brown': 0.1, 'dark brown': 0.1},
        texture: {'reticular': 0.5, 'dotted-globular': 0.4, 'smooth': 0.1}
      }
    },
    nv: {
      frequency: 6705,
      attributes: {
        shape: {round: 0.5, oval: 0.5},
        symmetry: {symmetric: 0.9, asymmetric: 0.1},
        border: {sharp: 0.85, blurred: 0.15},
        size: {small: 0.5, medium: 0.4, large: 0.1},
        colour: brownish,
        secondaryColour: {none: 0.85, 'light brown': 0.075, 'dark brown': 0.075},
        texture: {'reticular': 0.5, 'smooth': 0.3, 'dotted-globular': 0.2}
      }
    },
    vasc: {
      frequency: 142,
      attributes: {
        shape: {round: 0.5, oval: 0.4, irregular: 0.1},
        symmetry: {symmetric: 0.8, asymmetric: 0.2},
        border: {sharp: 0.9, blurred: 0.1},
        size: {small: 0.5, medium: 0.5},
        colour: {'reddish': 1},
        secondaryColour: {none: 0.6, 'blue-grey': 0.4},
        texture: {'dotted-globular': 0.6, 'smooth': 0.4}
      }
    }
  },
  // Kvasir-SEG has one class; attributes are drawn independently.
  polyp: {
    polyp: {
      frequency: 1,
      attributes: {
        shape: {round: 0.35, oval: 0.35, irregular: 0.3},
        symmetry: {symmetric: 0.6, asymmetric: 0.4},
        border: {sharp: 0.6, blurred: 0.4},
        size: {small: 0.35, medium: 0.4, large: 0.25},
        colour: {'pale pink': 0.3, 'pink': 0.4, 'red': 0.3},
        texture: {smooth: 0.6, granular: 0.4}
      }
    }
  },
  // BUSI class counts: benign 437, malignant 210, normal 133.
  ultrasound: {
    benign: {
      frequency: 437,
      attributes: {
        shape: {oval: 0.6, round: 0.3, irregular: 0.1},
        symmetry: {symmetric: 0.85, asymmetric: 0.15},
        border: {sharp: 0.8, blurred: 0.2},
        size: {small: 0.5, medium: 0.4, large: 0.1},
        colour: {anechoic: 0.7, hypoechoic: 0.3},
        texture: {'low speckle': 0.5, 'high speckle': 0.5}
      }
    },
    malignant: {
      frequency: 210,
      attributes: {
        shape: {irregular: 0.8, oval: 0.2},
        symmetry: {asymmetric: 0.85, symmetric: 0.15},
        border: {blurred: 0.8, sharp: 0.2},
        size: {small: 0.1, medium: 0.5, large: 0.4},
        colour: {hypoechoic: 0.85, anechoic: 0.15},
        texture: {'high speckle': 0.6, 'low speckle': 0.4}
      }
    },
    normal: {
      frequency: 133,
      attributes: {
        shape: {none: 1},
        symmetry: {none: 1},
        border: {none: 1},
        size: {none: 1},
        colour: {none: 1},
        texture: {'low speckle': 0.5, 'high speckle': 0.5}
      }
    }
  }
}

export function classesOf(kind: DatasetKind): string[] {
  return Object.keys(classRules[kind]).sort()
}
