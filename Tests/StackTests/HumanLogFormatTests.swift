import Stack
import Testing

@Suite struct HumanLogFormatTests {
    @Test func serviceJSONLinesReadLikeALog() {
        let line = #"{"duration_ms":"1.52","level":"info","logger":"greeter","method":"POST","msg":"request","request_id":"ab12","route":"/greeter.v1.GreeterService/Greet","service":"greeter","status":"200","ts":"2026-11-28T09:14:03.125Z"}"#
        #expect(HumanLogFormat.render(line) == "09:14:03.125 INFO  request duration_ms=1.52 method=POST request_id=ab12 route=/greeter.v1.GreeterService/Greet status=200")
    }

    @Test func valuesWithSpacesAreQuotedAndOtherLinesPassThrough() {
        let line = #"{"level":"warning","msg":"database unavailable","reason":"no answer within 1 s","ts":"2026-11-28T09:14:03.125Z"}"#
        #expect(HumanLogFormat.render(line) == #"09:14:03.125 WARNING database unavailable reason="no answer within 1 s""#)
        // HAProxy's access log and anything else that is not one of ours is left as it is.
        #expect(HumanLogFormat.render("127.0.0.1:5050 [28/Nov/2026:09:14:03.125] edge be_greeter/greeter 0/0/0/2/2 200") == "127.0.0.1:5050 [28/Nov/2026:09:14:03.125] edge be_greeter/greeter 0/0/0/2/2 200")
        #expect(HumanLogFormat.render(#"{"not":"a log line"}"#) == #"{"not":"a log line"}"#)
    }
}
