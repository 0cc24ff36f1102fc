import Database
import Testing

@Suite struct SQLScriptTests {
    @Test func splitsOnSemicolonsOutsideQuotesAndComments() {
        let script = SQLScript("""
            -- leading comment; not a statement
            CREATE TABLE a (t text DEFAULT 'x;y');
            /* block; /* nested; */ still comment */
            INSERT INTO "we;ird" VALUES (E'it\\'s; fine');
            CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
            DO $$ BEGIN PERFORM 1; END $$;
            SELECT $1
            """)
        #expect(script.statements.map(\.line) == [2, 4, 5, 6, 7])
        #expect(script.statements[0].sql == "CREATE TABLE a (t text DEFAULT 'x;y')")
        #expect(script.statements[1].sql == #"INSERT INTO "we;ird" VALUES (E'it\'s; fine')"#)
        #expect(script.statements[2].sql.hasSuffix("$body$ LANGUAGE sql"))
        #expect(script.statements[4].sql == "SELECT $1")
    }

    @Test func commentsOnlyMakeNoStatements() {
        #expect(SQLScript("-- nothing\n/* here */\n;\n").statements.isEmpty)
    }
}

extension SQLScriptTests {
    @Test func leadingCommentsAreNotPartOfTheStatement() {
        let script = SQLScript("-- about a\n\n/* more */ SELECT 1;\n-- trailing\n")
        #expect(script.statements.map(\.sql) == ["SELECT 1"])
        #expect(script.statements.map(\.line) == [3])
    }
}

extension SQLScriptTests {
    @Test func anEBeforeAQuoteInsideAWordIsNotAnEscapePrefix() {
        let script = SQLScript("SELECT CASE WHEN true THEN 'a' ELSE'\\' END;\nSELECT 2;")
        #expect(script.statements.map(\.line) == [1, 2])
    }
}

extension SQLScriptTests {
    @Test func sqlStandardRoutineBodiesStayWhole() {
        let script = SQLScript("""
            CREATE OR REPLACE FUNCTION grade(score int) RETURNS text LANGUAGE sql
            BEGIN ATOMIC
                SELECT CASE WHEN score > 50 THEN 'pass' ELSE 'fail' END;
                SELECT 'unreached';
            END;
            CREATE PROCEDURE touch() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); END;
            SELECT grade(60)
            """)
        #expect(script.statements.map(\.line) == [1, 6, 7])
        #expect(script.statements[0].sql.hasSuffix("SELECT 'unreached';\nEND"))
        #expect(script.statements[1].sql.hasSuffix("INSERT INTO t VALUES (2); END"))
    }

    @Test func semicolonsInsideParenthesesDoNotSplit() {
        let script = SQLScript("""
            CREATE RULE log_insert AS ON INSERT TO t DO ALSO (INSERT INTO log VALUES (1); INSERT INTO log VALUES (2));
            SELECT 1
            """)
        #expect(script.statements.count == 2)
        #expect(script.statements[0].sql.hasSuffix("INSERT INTO log VALUES (2))"))
    }

    @Test func beginAndEndOutsideRoutinesAreOrdinaryWords() {
        // A CASE … END in a plain statement does not hold the next statement back.
        let script = SQLScript("SELECT CASE WHEN true THEN 1 END; SELECT 2;")
        #expect(script.statements.map(\.sql) == ["SELECT CASE WHEN true THEN 1 END", "SELECT 2"])
    }
}
