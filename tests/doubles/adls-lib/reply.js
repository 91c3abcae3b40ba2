// Replies of the ADLS double: the dfs endpoint's errors are JSON
// ({"error":{"code","message"}}), the Blob endpoint's are Azure's XML; both
// carry x-ms-error-code. An error raised in the dfs vocabulary (PathNotFound)
// is renamed for a Blob request (BlobNotFound), as the two endpoints differ.
'use strict';
const http = require('../azure-files-lib/http.js');

const SERVER = { dfs: 'Windows-Azure-HDFS/1.0 Microsoft-HTTPAPI/2.0', blob: 'Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0' };
const TO_BLOB = {
  FilesystemNotFound: ['ContainerNotFound', 'The specified container does not exist.'],
  FilesystemAlreadyExists: ['ContainerAlreadyExists', 'The specified container already exists.'],
  PathNotFound: ['BlobNotFound', 'The specified blob does not exist.'],
};

function sendJson(ctx, status, obj, headers = {}) {
  http.send(ctx, status, { 'content-type': 'application/json;charset=utf-8', ...headers }, JSON.stringify(obj));
}
function sendError(ctx, err) {
  if (ctx.api !== 'dfs') {
    const t = TO_BLOB[err.code];
    if (t) { err.code = t[0]; err.message = t[1]; }
    http.sendError(ctx, err);
    return;
  }
  const message = `${err.message}\nRequestId:${ctx.requestId}\nTime:${new Date().toISOString().replace('Z', '0000Z')}`;
  sendJson(ctx, err.status, { error: { code: err.code, message } }, { 'x-ms-error-code': err.code, ...err.headers });
}

module.exports = { SERVER, sendJson, sendError, send: http.send, sendXml: http.sendXml, el: http.el, xmlEscape: http.xmlEscape };
