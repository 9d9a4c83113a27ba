// The failure converter of every Temporal client and worker of the service, and of the workflow bundle (the SDK
// loads it by path, with require(), in both places: hence plain CommonJS). With `encodeCommonAttributes` a failure's
// message and stack trace travel in an encoded payload, which the payload codec then encrypts; Temporal's history
// shows "Encoded failure" and the codec server (or a client with the keys) reads the real text. Without it, a
// provider's error or an engine message would sit in the history in plain text even though every payload is sealed.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
