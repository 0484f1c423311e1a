// Behavioural simulation model of the Lattice ECP5 DP16KD (16 Kbit true dual-port block RAM), for
// the modes yosys synth_ecp5 maps memories to: both ports 18 bits wide (1024 words; the word
// address is AD[13:4], AD[1:0] the byte write enables), chip select decode 0b000 (CS pins low).
// Per port, on a rising CLK edge with CE high: a write (WE) stores the enabled bytes of DI and the
// read latch follows WRITEMODE (NORMAL: unchanged, WRITETHROUGH: the new word, READBEFOREWRITE: the
// old word); without WE the latch loads the addressed word. REGMODE OUTREG adds the output
// register, loaded from the latch on a rising CLK edge while OCE is high; NOREG outputs the latch.
// RST clears the latch and the output register (RESETMODE SYNC: on the clock edge, over CE/OCE;
// ASYNC: at once). Latch and register power up as 0; the contents come from INITVAL_00..3F (word w
// in INITVAL_<w/16> bits [(w%16)*20 +: 18], as yosys' brams_map_16kd.v writes them). Other data
// widths, chip-select decodes and inverted clock/control muxes stop the simulation at time 0.
// yosys ships this cell only as a blackbox.
module DP16KD(DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0, ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0, CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0, DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0, DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0, ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0, CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0, DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0);
    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter GSR = "ENABLED";
    parameter INIT_DATA = "STATIC";
    parameter WID = 0;
    parameter DIA0MUX = "DIA0";
    parameter DIA1MUX = "DIA1";
    parameter DIA2MUX = "DIA2";
    parameter DIA3MUX = "DIA3";
    parameter DIA4MUX = "DIA4";
    parameter DIA5MUX = "DIA5";
    parameter DIA6MUX = "DIA6";
    parameter DIA7MUX = "DIA7";
    parameter DIA8MUX = "DIA8";
    parameter DIA9MUX = "DIA9";
    parameter DIA10MUX = "DIA10";
    parameter DIA11MUX = "DIA11";
    parameter DIA12MUX = "DIA12";
    parameter DIA13MUX = "DIA13";
    parameter DIA14MUX = "DIA14";
    parameter DIA15MUX = "DIA15";
    parameter DIA16MUX = "DIA16";
    parameter DIA17MUX = "DIA17";
    parameter ADA0MUX = "ADA0";
    parameter ADA1MUX = "ADA1";
    parameter ADA2MUX = "ADA2";
    parameter ADA3MUX = "ADA3";
    parameter ADA4MUX = "ADA4";
    parameter ADA5MUX = "ADA5";
    parameter ADA6MUX = "ADA6";
    parameter ADA7MUX = "ADA7";
    parameter ADA8MUX = "ADA8";
    parameter ADA9MUX = "ADA9";
    parameter ADA10MUX = "ADA10";
    parameter ADA11MUX = "ADA11";
    parameter ADA12MUX = "ADA12";
    parameter ADA13MUX = "ADA13";
    parameter CEAMUX = "CEA";
    parameter OCEAMUX = "OCEA";
    parameter CLKAMUX = "CLKA";
    parameter WEAMUX = "WEA";
    parameter RSTAMUX = "RSTA";
    parameter CSA0MUX = "CSA0";
    parameter CSA1MUX = "CSA1";
    parameter CSA2MUX = "CSA2";
    parameter DOA0MUX = "DOA0";
    parameter DOA1MUX = "DOA1";
    parameter DOA2MUX = "DOA2";
    parameter DOA3MUX = "DOA3";
    parameter DOA4MUX = "DOA4";
    parameter DOA5MUX = "DOA5";
    parameter DOA6MUX = "DOA6";
    parameter DOA7MUX = "DOA7";
    parameter DOA8MUX = "DOA8";
    parameter DOA9MUX = "DOA9";
    parameter DOA10MUX = "DOA10";
    parameter DOA11MUX = "DOA11";
    parameter DOA12MUX = "DOA12";
    parameter DOA13MUX = "DOA13";
    parameter DOA14MUX = "DOA14";
    parameter DOA15MUX = "DOA15";
    parameter DOA16MUX = "DOA16";
    parameter DOA17MUX = "DOA17";
    parameter DIB0MUX = "DIB0";
    parameter DIB1MUX = "DIB1";
    parameter DIB2MUX = "DIB2";
    parameter DIB3MUX = "DIB3";
    parameter DIB4MUX = "DIB4";
    parameter DIB5MUX = "DIB5";
    parameter DIB6MUX = "DIB6";
    parameter DIB7MUX = "DIB7";
    parameter DIB8MUX = "DIB8";
    parameter DIB9MUX = "DIB9";
    parameter DIB10MUX = "DIB10";
    parameter DIB11MUX = "DIB11";
    parameter DIB12MUX = "DIB12";
    parameter DIB13MUX = "DIB13";
    parameter DIB14MUX = "DIB14";
    parameter DIB15MUX = "DIB15";
    parameter DIB16MUX = "DIB16";
    parameter DIB17MUX = "DIB17";
    parameter ADB0MUX = "ADB0";
    parameter ADB1MUX = "ADB1";
    parameter ADB2MUX = "ADB2";
    parameter ADB3MUX = "ADB3";
    parameter ADB4MUX = "ADB4";
    parameter ADB5MUX = "ADB5";
    parameter ADB6MUX = "ADB6";
    parameter ADB7MUX = "ADB7";
    parameter ADB8MUX = "ADB8";
    parameter ADB9MUX = "ADB9";
    parameter ADB10MUX = "ADB10";
    parameter ADB11MUX = "ADB11";
    parameter ADB12MUX = "ADB12";
    parameter ADB13MUX = "ADB13";
    parameter CEBMUX = "CEB";
    parameter OCEBMUX = "OCEB";
    parameter CLKBMUX = "CLKB";
    parameter WEBMUX = "WEB";
    parameter RSTBMUX = "RSTB";
    parameter CSB0MUX = "CSB0";
    parameter CSB1MUX = "CSB1";
    parameter CSB2MUX = "CSB2";
    parameter DOB0MUX = "DOB0";
    parameter DOB1MUX = "DOB1";
    parameter DOB2MUX = "DOB2";
    parameter DOB3MUX = "DOB3";
    parameter DOB4MUX = "DOB4";
    parameter DOB5MUX = "DOB5";
    parameter DOB6MUX = "DOB6";
    parameter DOB7MUX = "DOB7";
    parameter DOB8MUX = "DOB8";
    parameter DOB9MUX = "DOB9";
    parameter DOB10MUX = "DOB10";
    parameter DOB11MUX = "DOB11";
    parameter DOB12MUX = "DOB12";
    parameter DOB13MUX = "DOB13";
    parameter DOB14MUX = "DOB14";
    parameter DOB15MUX = "DOB15";
    parameter DOB16MUX = "DOB16";
    parameter DOB17MUX = "DOB17";
    parameter [319:0] INITVAL_00 = 320'h0;
    parameter [319:0] INITVAL_01 = 320'h0;
    parameter [319:0] INITVAL_02 = 320'h0;
    parameter [319:0] INITVAL_03 = 320'h0;
    parameter [319:0] INITVAL_04 = 320'h0;
    parameter [319:0] INITVAL_05 = 320'h0;
    parameter [319:0] INITVAL_06 = 320'h0;
    parameter [319:0] INITVAL_07 = 320'h0;
    parameter [319:0] INITVAL_08 = 320'h0;
    parameter [319:0] INITVAL_09 = 320'h0;
    parameter [319:0] INITVAL_0A = 320'h0;
    parameter [319:0] INITVAL_0B = 320'h0;
    parameter [319:0] INITVAL_0C = 320'h0;
    parameter [319:0] INITVAL_0D = 320'h0;
    parameter [319:0] INITVAL_0E = 320'h0;
    parameter [319:0] INITVAL_0F = 320'h0;
    parameter [319:0] INITVAL_10 = 320'h0;
    parameter [319:0] INITVAL_11 = 320'h0;
    parameter [319:0] INITVAL_12 = 320'h0;
    parameter [319:0] INITVAL_13 = 320'h0;
    parameter [319:0] INITVAL_14 = 320'h0;
    parameter [319:0] INITVAL_15 = 320'h0;
    parameter [319:0] INITVAL_16 = 320'h0;
    parameter [319:0] INITVAL_17 = 320'h0;
    parameter [319:0] INITVAL_18 = 320'h0;
    parameter [319:0] INITVAL_19 = 320'h0;
    parameter [319:0] INITVAL_1A = 320'h0;
    parameter [319:0] INITVAL_1B = 320'h0;
    parameter [319:0] INITVAL_1C = 320'h0;
    parameter [319:0] INITVAL_1D = 320'h0;
    parameter [319:0] INITVAL_1E = 320'h0;
    parameter [319:0] INITVAL_1F = 320'h0;
    parameter [319:0] INITVAL_20 = 320'h0;
    parameter [319:0] INITVAL_21 = 320'h0;
    parameter [319:0] INITVAL_22 = 320'h0;
    parameter [319:0] INITVAL_23 = 320'h0;
    parameter [319:0] INITVAL_24 = 320'h0;
    parameter [319:0] INITVAL_25 = 320'h0;
    parameter [319:0] INITVAL_26 = 320'h0;
    parameter [319:0] INITVAL_27 = 320'h0;
    parameter [319:0] INITVAL_28 = 320'h0;
    parameter [319:0] INITVAL_29 = 320'h0;
    parameter [319:0] INITVAL_2A = 320'h0;
    parameter [319:0] INITVAL_2B = 320'h0;
    parameter [319:0] INITVAL_2C = 320'h0;
    parameter [319:0] INITVAL_2D = 320'h0;
    parameter [319:0] INITVAL_2E = 320'h0;
    parameter [319:0] INITVAL_2F = 320'h0;
    parameter [319:0] INITVAL_30 = 320'h0;
    parameter [319:0] INITVAL_31 = 320'h0;
    parameter [319:0] INITVAL_32 = 320'h0;
    parameter [319:0] INITVAL_33 = 320'h0;
    parameter [319:0] INITVAL_34 = 320'h0;
    parameter [319:0] INITVAL_35 = 320'h0;
    parameter [319:0] INITVAL_36 = 320'h0;
    parameter [319:0] INITVAL_37 = 320'h0;
    parameter [319:0] INITVAL_38 = 320'h0;
    parameter [319:0] INITVAL_39 = 320'h0;
    parameter [319:0] INITVAL_3A = 320'h0;
    parameter [319:0] INITVAL_3B = 320'h0;
    parameter [319:0] INITVAL_3C = 320'h0;
    parameter [319:0] INITVAL_3D = 320'h0;
    parameter [319:0] INITVAL_3E = 320'h0;
    parameter [319:0] INITVAL_3F = 320'h0;
    input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0;
    input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0;
    input CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0;
    output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0;
    input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0;
    input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0;
    input CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0;
    output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0;

    reg [17:0] mem [0:1023];
    reg [319:0] row;
    integer w;
    initial begin
        if (DATA_WIDTH_A != 18 || DATA_WIDTH_B != 18 || CSDECODE_A != "0b000" || CSDECODE_B != "0b000")
            $fatal(1, "DP16KD model: only 18-bit ports with CSDECODE 0b000 are modelled");
        if (REGMODE_A != "NOREG" && REGMODE_A != "OUTREG" || REGMODE_B != "NOREG" && REGMODE_B != "OUTREG"
                || RESETMODE != "SYNC" && RESETMODE != "ASYNC")
            $fatal(1, "DP16KD model: bad REGMODE or RESETMODE");
        if (DIA0MUX != "DIA0" ||
            DIA1MUX != "DIA1" ||
            DIA2MUX != "DIA2" ||
            DIA3MUX != "DIA3" ||
            DIA4MUX != "DIA4" ||
            DIA5MUX != "DIA5" ||
            DIA6MUX != "DIA6" ||
            DIA7MUX != "DIA7" ||
            DIA8MUX != "DIA8" ||
            DIA9MUX != "DIA9" ||
            DIA10MUX != "DIA10" ||
            DIA11MUX != "DIA11" ||
            DIA12MUX != "DIA12" ||
            DIA13MUX != "DIA13" ||
            DIA14MUX != "DIA14" ||
            DIA15MUX != "DIA15" ||
            DIA16MUX != "DIA16" ||
            DIA17MUX != "DIA17" ||
            ADA0MUX != "ADA0" ||
            ADA1MUX != "ADA1" ||
            ADA2MUX != "ADA2" ||
            ADA3MUX != "ADA3" ||
            ADA4MUX != "ADA4" ||
            ADA5MUX != "ADA5" ||
            ADA6MUX != "ADA6" ||
            ADA7MUX != "ADA7" ||
            ADA8MUX != "ADA8" ||
            ADA9MUX != "ADA9" ||
            ADA10MUX != "ADA10" ||
            ADA11MUX != "ADA11" ||
            ADA12MUX != "ADA12" ||
            ADA13MUX != "ADA13" ||
            CEAMUX != "CEA" ||
            OCEAMUX != "OCEA" ||
            CLKAMUX != "CLKA" ||
            WEAMUX != "WEA" ||
            RSTAMUX != "RSTA" ||
            CSA0MUX != "CSA0" ||
            CSA1MUX != "CSA1" ||
            CSA2MUX != "CSA2" ||
            DOA0MUX != "DOA0" ||
            DOA1MUX != "DOA1" ||
            DOA2MUX != "DOA2" ||
            DOA3MUX != "DOA3" ||
            DOA4MUX != "DOA4" ||
            DOA5MUX != "DOA5" ||
            DOA6MUX != "DOA6" ||
            DOA7MUX != "DOA7" ||
            DOA8MUX != "DOA8" ||
            DOA9MUX != "DOA9" ||
            DOA10MUX != "DOA10" ||
            DOA11MUX != "DOA11" ||
            DOA12MUX != "DOA12" ||
            DOA13MUX != "DOA13" ||
            DOA14MUX != "DOA14" ||
            DOA15MUX != "DOA15" ||
            DOA16MUX != "DOA16" ||
            DOA17MUX != "DOA17" ||
            DIB0MUX != "DIB0" ||
            DIB1MUX != "DIB1" ||
            DIB2MUX != "DIB2" ||
            DIB3MUX != "DIB3" ||
            DIB4MUX != "DIB4" ||
            DIB5MUX != "DIB5" ||
            DIB6MUX != "DIB6" ||
            DIB7MUX != "DIB7" ||
            DIB8MUX != "DIB8" ||
            DIB9MUX != "DIB9" ||
            DIB10MUX != "DIB10" ||
            DIB11MUX != "DIB11" ||
            DIB12MUX != "DIB12" ||
            DIB13MUX != "DIB13" ||
            DIB14MUX != "DIB14" ||
            DIB15MUX != "DIB15" ||
            DIB16MUX != "DIB16" ||
            DIB17MUX != "DIB17" ||
            ADB0MUX != "ADB0" ||
            ADB1MUX != "ADB1" ||
            ADB2MUX != "ADB2" ||
            ADB3MUX != "ADB3" ||
            ADB4MUX != "ADB4" ||
            ADB5MUX != "ADB5" ||
            ADB6MUX != "ADB6" ||
            ADB7MUX != "ADB7" ||
            ADB8MUX != "ADB8" ||
            ADB9MUX != "ADB9" ||
            ADB10MUX != "ADB10" ||
            ADB11MUX != "ADB11" ||
            ADB12MUX != "ADB12" ||
            ADB13MUX != "ADB13" ||
            CEBMUX != "CEB" ||
            OCEBMUX != "OCEB" ||
            CLKBMUX != "CLKB" ||
            WEBMUX != "WEB" ||
            RSTBMUX != "RSTB" ||
            CSB0MUX != "CSB0" ||
            CSB1MUX != "CSB1" ||
            CSB2MUX != "CSB2" ||
            DOB0MUX != "DOB0" ||
            DOB1MUX != "DOB1" ||
            DOB2MUX != "DOB2" ||
            DOB3MUX != "DOB3" ||
            DOB4MUX != "DOB4" ||
            DOB5MUX != "DOB5" ||
            DOB6MUX != "DOB6" ||
            DOB7MUX != "DOB7" ||
            DOB8MUX != "DOB8" ||
            DOB9MUX != "DOB9" ||
            DOB10MUX != "DOB10" ||
            DOB11MUX != "DOB11" ||
            DOB12MUX != "DOB12" ||
            DOB13MUX != "DOB13" ||
            DOB14MUX != "DOB14" ||
            DOB15MUX != "DOB15" ||
            DOB16MUX != "DOB16" ||
            DOB17MUX != "DOB17")
            $fatal(1, "DP16KD model: inverted or constant pin muxes are not modelled");
        for (w = 0; w < 1024; w = w + 1) begin
            case (w / 16)
                0: row = INITVAL_00;
                1: row = INITVAL_01;
                2: row = INITVAL_02;
                3: row = INITVAL_03;
                4: row = INITVAL_04;
                5: row = INITVAL_05;
                6: row = INITVAL_06;
                7: row = INITVAL_07;
                8: row = INITVAL_08;
                9: row = INITVAL_09;
                10: row = INITVAL_0A;
                11: row = INITVAL_0B;
                12: row = INITVAL_0C;
                13: row = INITVAL_0D;
                14: row = INITVAL_0E;
                15: row = INITVAL_0F;
                16: row = INITVAL_10;
                17: row = INITVAL_11;
                18: row = INITVAL_12;
                19: row = INITVAL_13;
                20: row = INITVAL_14;
                21: row = INITVAL_15;
                22: row = INITVAL_16;
                23: row = INITVAL_17;
                24: row = INITVAL_18;
                25: row = INITVAL_19;
                26: row = INITVAL_1A;
                27: row = INITVAL_1B;
                28: row = INITVAL_1C;
                29: row = INITVAL_1D;
                30: row = INITVAL_1E;
                31: row = INITVAL_1F;
                32: row = INITVAL_20;
                33: row = INITVAL_21;
                34: row = INITVAL_22;
                35: row = INITVAL_23;
                36: row = INITVAL_24;
                37: row = INITVAL_25;
                38: row = INITVAL_26;
                39: row = INITVAL_27;
                40: row = INITVAL_28;
                41: row = INITVAL_29;
                42: row = INITVAL_2A;
                43: row = INITVAL_2B;
                44: row = INITVAL_2C;
                45: row = INITVAL_2D;
                46: row = INITVAL_2E;
                47: row = INITVAL_2F;
                48: row = INITVAL_30;
                49: row = INITVAL_31;
                50: row = INITVAL_32;
                51: row = INITVAL_33;
                52: row = INITVAL_34;
                53: row = INITVAL_35;
                54: row = INITVAL_36;
                55: row = INITVAL_37;
                56: row = INITVAL_38;
                57: row = INITVAL_39;
                58: row = INITVAL_3A;
                59: row = INITVAL_3B;
                60: row = INITVAL_3C;
                61: row = INITVAL_3D;
                62: row = INITVAL_3E;
                63: row = INITVAL_3F;
                default: row = 320'h0;
            endcase
            mem[w] = row[(w % 16) * 20 +: 18];
        end
    end

    nlihw_dp16kd_port #(.REGMODE(REGMODE_A), .WRITEMODE(WRITEMODE_A), .RESETMODE(RESETMODE)) port_a (
        .clk(CLKA), .ce(CEA), .oce(OCEA), .we(WEA), .rst(RSTA), .cs({CSA2, CSA1, CSA0}),
        .ad({ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0}), .di({DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0}), .do_({DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0}));
    nlihw_dp16kd_port #(.REGMODE(REGMODE_B), .WRITEMODE(WRITEMODE_B), .RESETMODE(RESETMODE)) port_b (
        .clk(CLKB), .ce(CEB), .oce(OCEB), .we(WEB), .rst(RSTB), .cs({CSB2, CSB1, CSB0}),
        .ad({ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0}), .di({DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0}), .do_({DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0}));
endmodule

// One DP16KD port: writes into the parent's ``mem``, the read latch and the optional output register.
module nlihw_dp16kd_port #(parameter REGMODE = "NOREG", parameter WRITEMODE = "NORMAL",
                           parameter RESETMODE = "SYNC")
    (input clk, input ce, input oce, input we, input rst, input [2:0] cs, input [13:0] ad,
     input [17:0] di, output [17:0] do_);
    reg [17:0] latch = 18'h0;
    reg [17:0] out = 18'h0;
    wire en = ce && cs == 3'b000;
    wire [9:0] a = ad[13:4];
    wire [17:0] old = DP16KD.mem[a];
    wire [17:0] merged = {ad[1] ? di[17:9] : old[17:9], ad[0] ? di[8:0] : old[8:0]};
    generate
        if (RESETMODE == "ASYNC") begin : async_reset
            always @(posedge clk or posedge rst)
                if (rst) latch <= 18'h0;
                else if (en) latch <= !we ? old : WRITEMODE == "WRITETHROUGH" ? merged
                                        : WRITEMODE == "READBEFOREWRITE" ? old : latch;
            always @(posedge clk or posedge rst)
                if (rst) out <= 18'h0;
                else if (oce) out <= latch;
        end else begin : sync_reset
            always @(posedge clk)
                if (rst) latch <= 18'h0;
                else if (en) latch <= !we ? old : WRITEMODE == "WRITETHROUGH" ? merged
                                        : WRITEMODE == "READBEFOREWRITE" ? old : latch;
            always @(posedge clk)
                if (rst) out <= 18'h0;
                else if (oce) out <= latch;
        end
    endgenerate
    always @(posedge clk)
        if (en && we) DP16KD.mem[a] <= merged;
    assign do_ = REGMODE == "OUTREG" ? out : latch;
endmodule
