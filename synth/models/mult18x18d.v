// Behavioural simulation model of the Lattice ECP5 sysDSP MULT18X18D (18x18 multiplier), for the
// modes nlihw's netlists use: operands A and B (SOURCEA/SOURCEB pick the shift inputs SRIA/SRIB),
// SIGNEDA/SIGNEDB, the input registers REG_INPUTA/B, the pipeline register REG_PIPELINE and the
// output register REG_OUTPUT, each with its own clock (CLK0..3), clock enable (CE0..3) and reset
// (RST0..3) selected by its REG_*_CLK/_CE/_RST parameters. RESETMODE SYNC: a register clears on
// the clock edge while its reset is high; ASYNC: as soon as it rises. Reset wins over the enable.
// Every register powers up as 0. The sign inputs travel with their operand registers and SIGNEDP
// with the pipeline register. P is the 36-bit product of the two operands, each sign-extended
// when its SIGNED input is high. Not modelled (an error at time 0 when set): the C input register,
// MULT_BYPASS, HIGHSPEED_CLK, SOURCEB_MODE other than B_SHIFT. yosys ships this cell only as a
// blackbox; semantics after the Lattice ECP5 sysDSP usage guide (FPGA-TN-02205) and Diamond's
// simulation library.
module MULT18X18D(A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0, B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0, C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0, SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0, SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0, SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0, SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0, SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0, ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0, ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0, ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0, P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0, SIGNEDP);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";
    input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0;
    input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0;
    input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0;
    input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB;
    input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0;
    input SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0;
    input SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0;
    output SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0;
    output SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0;
    output ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0;
    output ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0;
    output ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0;
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0;
    output SIGNEDP;

    wire [3:0] clk = {CLK3, CLK2, CLK1, CLK0};
    wire [3:0] ce = {CE3, CE2, CE1, CE0};
    wire [3:0] rst = {RST3, RST2, RST1, RST0};
    wire [17:0] a_in = SOURCEA ? {SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0} : {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b_in = SOURCEB ? {SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0} : {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    wire [17:0] a, b;
    wire sa, sb, sp;
    wire [35:0] p_mul, p_pipe, p;

    initial begin
        if (REG_INPUTC_CLK != "NONE" || MULT_BYPASS != "DISABLED" || HIGHSPEED_CLK != "NONE"
                || SOURCEB_MODE != "B_SHIFT")
            $fatal(1, "MULT18X18D model: REG_INPUTC, MULT_BYPASS, HIGHSPEED_CLK, SOURCEB_MODE are not modelled");
    end

    nlihw_mult18x18d_reg #(.W(19), .CLK(REG_INPUTA_CLK), .CE(REG_INPUTA_CE), .RST(REG_INPUTA_RST),
        .RESETMODE(RESETMODE)) reg_a (.clk(clk), .ce(ce), .rst(rst), .d({SIGNEDA, a_in}), .q({sa, a}));
    nlihw_mult18x18d_reg #(.W(19), .CLK(REG_INPUTB_CLK), .CE(REG_INPUTB_CE), .RST(REG_INPUTB_RST),
        .RESETMODE(RESETMODE)) reg_b (.clk(clk), .ce(ce), .rst(rst), .d({SIGNEDB, b_in}), .q({sb, b}));
    assign p_mul = {{18{sa & a[17]}}, a} * {{18{sb & b[17]}}, b};
    nlihw_mult18x18d_reg #(.W(37), .CLK(REG_PIPELINE_CLK), .CE(REG_PIPELINE_CE), .RST(REG_PIPELINE_RST),
        .RESETMODE(RESETMODE)) reg_pipe (.clk(clk), .ce(ce), .rst(rst), .d({sa | sb, p_mul}), .q({sp, p_pipe}));
    nlihw_mult18x18d_reg #(.W(36), .CLK(REG_OUTPUT_CLK), .CE(REG_OUTPUT_CE), .RST(REG_OUTPUT_RST),
        .RESETMODE(RESETMODE)) reg_out (.clk(clk), .ce(ce), .rst(rst), .d(p_pipe), .q(p));

    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
    assign SIGNEDP = sp;
    assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0} = a;
    assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0} = a;
    assign {ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0} = b;
    assign {SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = b;
    assign {ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = {C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0};
endmodule

// One of the block's registers: bypassed when its CLK parameter is NONE, else clocked by the
// selected CLKn with enable CEn and reset RSTn (RESETMODE: SYNC or ASYNC); powers up as 0.
module nlihw_mult18x18d_reg #(parameter integer W = 1, parameter CLK = "NONE", parameter CE = "CE0",
                              parameter RST = "RST0", parameter RESETMODE = "SYNC")
    (input [3:0] clk, input [3:0] ce, input [3:0] rst, input [W-1:0] d, output [W-1:0] q);
    localparam integer K = CLK == "CLK0" ? 0 : CLK == "CLK1" ? 1 : CLK == "CLK2" ? 2 : CLK == "CLK3" ? 3 : -1;
    localparam integer E = CE == "CE0" ? 0 : CE == "CE1" ? 1 : CE == "CE2" ? 2 : CE == "CE3" ? 3 : -1;
    localparam integer R = RST == "RST0" ? 0 : RST == "RST1" ? 1 : RST == "RST2" ? 2 : RST == "RST3" ? 3 : -1;
    initial begin
        if (CLK != "NONE" && (K < 0 || E < 0 || R < 0))
            $fatal(1, "MULT18X18D model: bad register clock/enable/reset selection %s %s %s", CLK, CE, RST);
        if (RESETMODE != "SYNC" && RESETMODE != "ASYNC")
            $fatal(1, "MULT18X18D model: RESETMODE must be SYNC or ASYNC");
    end
    generate
        if (K < 0) begin : bypass
            assign q = d;
        end else begin : register
            reg [W-1:0] r = {W{1'b0}};
            wire c = clk[K];
            wire e = ce[E < 0 ? 0 : E];
            wire s = rst[R < 0 ? 0 : R];
            if (RESETMODE == "ASYNC") begin : async_reset
                always @(posedge c or posedge s)
                    if (s) r <= {W{1'b0}};
                    else if (e) r <= d;
            end else begin : sync_reset
                always @(posedge c)
                    if (s) r <= {W{1'b0}};
                    else if (e) r <= d;
            end
            assign q = r;
        end
    endgenerate
endmodule
