module guideexample

go 1.19
