// Reads a JSON array of texts on stdin, prints [{text, encoding, segments}] computed by Twilio's
// sms-segments-calculator (npm), the independent implementation our segment counts are checked
// against. Run by make_segments_oracle.py; needs `npm install sms-segments-calculator` in NODE_PATH.
const { SegmentedMessage } = require("sms-segments-calculator");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map((text) => {
    const m = new SegmentedMessage(text, "auto", false);
    return { text, encoding: m.encodingName, segments: m.segmentsCount };
  });
  process.stdout.write(JSON.stringify(out, null, 0));
});
