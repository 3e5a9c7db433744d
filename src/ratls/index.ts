/** RA-TLS certificates: creation (in the enclave), strict reading and self-consistency checks. */
export { createRatlsCertificate, type CreateRatlsOptions } from './certificate.js';
export {
  MAX_QUOTE_SIZE,
  MIN_QUOTE_SIZE,
  QUOTE_REPORT_DATA_OFFSET,
  REPORT_DATA_SIZE,
  SGX_QUOTE_EXTENSION_OID,
  normalizeSan,
  p256PublicPoint,
  ratlsReportData,
} from './format.js';
export {
  checkRatlsBinding,
  checkRatlsKeyBinding,
  checkRatlsValidity,
  readRatlsCertificate,
  verifyRatlsSignature,
  type RatlsCertificate,
} from './read.js';
export {
  formatSubject,
  normalizeSubject,
  parseSubject,
  subjectFromName,
  subjectToName,
  subjectsEqual,
  type SubjectAttribute,
  type SubjectRdn,
} from './subject.js';
