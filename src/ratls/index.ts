/** RA-TLS certificates: creation (in the enclave), strict reading and self-consistency checks. */
export {
  MAX_QUOTE_SIZE,
  MIN_QUOTE_SIZE,
  QUOTE_REPORT_DATA_OFFSET,
  REPORT_DATA_SIZE,
  SGX_QUOTE_EXTENSION_OID,
  checkRatlsBinding,
  checkRatlsKeyBinding,
  checkRatlsValidity,
  createRatlsCertificate,
  normalizeSan,
  p256PublicPoint,
  ratlsReportData,
  readRatlsCertificate,
  verifyRatlsSignature,
  type CreateRatlsOptions,
  type RatlsCertificate,
} from './certificate.js';
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
